"""Third-party tokenizer families through the ``speechtok.tokenizers`` entry point group.

``tests/plugin_example`` is a complete plug-in package; here it is "installed" the way pip would
leave it (the package plus a ``.dist-info`` with its entry points, taken from its pyproject.toml)
into a temporary folder on ``PYTHONPATH``, and used from fresh interpreters.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = Path(__file__).resolve().parent / "plugin_example"


def _install(site: Path, entry_points: dict[str, str] | None = None) -> Path:
    """The example as pip installs it: the package, METADATA and entry_points.txt."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    shutil.copytree(EXAMPLE / "speechtok_toy", site / "speechtok_toy")
    info = site / f"speechtok_toy-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    eps = entry_points or project["entry-points"]["speechtok.tokenizers"]
    (info / "entry_points.txt").write_text("[speechtok.tokenizers]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()))
    return site


def _run(site: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *(["-c", code] if code else []), *args], capture_output=True, text=True,
                          env=env, cwd=site)


def test_the_example_plugin_is_found_listed_and_round_trips(tmp_path):
    site = _install(tmp_path)
    out = _run(site, """
import json, sys
import numpy as np, speechtok
fast = speechtok.load("pcm16")
builtin_only = "speechtok_toy" not in sys.modules  # a built-in name never loads a plug-in
tok = speechtok.load("toy@256")
wav = np.sin(np.arange(800) / 5).astype(np.float32) * 0.5
tokens = tok.encode(wav, 8000)
back, sr = tok.decode(tokens)
from speechtok.tokenizers.registry import describe
print(json.dumps({"builtin_only": builtin_only, "type": type(tok).__module__, "shape": list(tokens.codes.shape),
                  "err": float(np.abs(back - wav).max()), "sr": sr, "names": [n for n in speechtok.available() if n.startswith("toy")],
                  "describe": describe("toy@64"), "any": speechtok.load("toy@1000").codebook_sizes[0]}))
""")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["builtin_only"] and r["type"] == "speechtok_toy"
    assert r["shape"] == [1, 800] and r["sr"] == 8000 and r["err"] <= 1 / 255 + 1e-6
    assert r["names"] == ["toy@16", "toy@64", "toy@256"] and r["any"] == 1000
    assert r["describe"] == {"name": "toy@64", "sample_rate": 8000, "frame_rate": 8000.0, "codebook_sizes": [64]}
    # the CLI knows it too: listed, and encode/decode by name
    listed = _run(site, "", "-m", "speechtok", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {"toy@16", "toy@256"} <= {row["name"] for row in json.loads(listed.stdout)}


def test_a_broken_plugin_is_left_out_with_a_warning(tmp_path):
    site = _install(tmp_path, {"toy": "speechtok_toy", "broken": "no_such_module_here"})
    out = _run(site, """
import warnings, speechtok
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    names = speechtok.available()
print(speechtok.load("toy@16").name, "toy@16" in names, [str(x.message) for x in w])
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("toy@16 True")
    assert "tokenizer plug-in broken (no_such_module_here) is left out: ModuleNotFoundError" in out.stdout


def test_an_unknown_name_still_says_so_with_plugins_installed(tmp_path):
    site = _install(tmp_path)
    out = _run(site, "import speechtok; speechtok.load('toy-ish@3')")
    assert out.returncode != 0 and "unknown tokenizer 'toy-ish@3'" in out.stderr


@pytest.mark.parametrize("missing", ["resolve", "names"])
def test_a_plugin_without_the_family_functions_is_refused(tmp_path, missing):
    site = _install(tmp_path, {"half": "half_family"})
    (site / "half_family.py").write_text("def resolve(name):\n    return None\n" if missing == "names"
                                         else "def names():\n    return []\n")
    out = _run(site, "import warnings; warnings.simplefilter('always'); import speechtok; print(len(speechtok.available()) > 0)")
    assert out.returncode == 0 and "True" in out.stdout
    assert "tokenizer plug-in half (half_family) is left out: TypeError" in out.stderr
