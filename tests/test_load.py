"""``speechtok.load`` of a shipped model: no training code, no pydantic (its configs are checked by
tests/test_config.py, not on every load), each file read once.

Run in a fresh interpreter each, so ``sys.modules`` shows what loading alone imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, sys
from pathlib import Path
opened = []

def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, Path)):
        opened.append(str(args[0]))

sys.addaudithook(hook)
import speechtok
from speechtok.codec.catalogue import MODELS_DIR
tok = speechtok.load(sys.argv[1])
folder = str(MODELS_DIR / sys.argv[1].split("@")[0].split("+")[0])
print(json.dumps({
    "modules": sorted(sys.modules),
    "reads": sorted(p for p in opened if p.startswith(folder + "/")),
    "name": tok.name,
}))
"""

#: what a load must never import: the trainers, the training engine, data tooling
TRAINING = ("lightning", "speechtok.train", "speechtok.codec.sourcefilter.train", "speechtok.codec.sourcefilter.adapt",
            "speechtok.codec.sourcefilter.phonetic_stage", "speechtok.codec.sourcefilter.semantic",
            "speechtok.codec.sourcefilter.augment", "speechtok.lm",
            "speechtok.eval", "speechtok.corpus", "speechtok.cli", "speechtok.serve", "speechtok.semantic")


def _load(name: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", PROBE, name], capture_output=True, text=True, env=env, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["speechtok-fast@1.45kbps", "speechtok-base", "speechtok-semantic",
                                  "speechtok-fast+lowlatency", "speechtok-fast-6p25hz@0.25kbps"])
def test_loading_a_shipped_model_imports_no_training_code_and_reads_each_file_once(name):
    facts = _load(name)
    assert facts["name"] == name
    leaked = [m for m in facts["modules"] if m.startswith(TRAINING + ("pydantic",))]
    assert leaked == []
    reads = facts["reads"]
    assert len(reads) == len(set(reads)), f"a file was read twice: {reads}"
    assert {Path(p).name for p in reads} >= {"config.yaml", "model.safetensors"}
    if name.startswith("speechtok-fast"):  # the fast analysis needs no WORLD
        assert "pyworld" not in facts["modules"]


def test_loading_a_shipped_model_does_not_import_pydantic():
    """The shipped configs are built directly (``build_config(trusted=True)``): pydantic's import,
    its validators and the garbage-collection pass its allocations set off stay off the load."""
    modules = _load("speechtok-fast")["modules"]
    assert "speechtok.codec.sourcefilter.config" in modules
    assert not [m for m in modules if m.split(".")[0] in ("pydantic", "pydantic_core")]
