"""The config engine (``speechtok/codec/config.py``): every committed config, run folder and
shipped model or voice loads, and save_yaml round-trips."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from speechtok.codec.config import load_run_config, save_yaml
from speechtok.codec.sourcefilter.config import load_sf_config
from speechtok.lm.config import load_lm_config
from speechtok.tts.config import load_tts_config

REPO = Path(__file__).resolve().parent.parent
LOADERS = {"endtoend": load_run_config, "sourcefilter": load_sf_config, "lm": load_lm_config, "tts": load_tts_config}


def _kind(path: Path) -> str:
    """Which config class a YAML file is (by what it says of itself, else by its name)."""
    data = yaml.safe_load(path.read_text()) or {}
    if data.get("design") == "sourcefilter":
        return "sourcefilter"
    if "vocab" in data or path.name.startswith("lm-"):
        return "lm"
    if "learned" in data or path.name.startswith("tts-"):
        return "tts"
    return "endtoend"


#: every committed config, run folder under checkpoints/ and shipped model or voice
CONFIGS = sorted(
    [*(REPO / "configs").glob("*.yaml"), *(REPO / "checkpoints").rglob("config.yaml"),
     *(REPO / "speechtok" / "assets").rglob("config.yaml")]
)


def test_the_list_of_configs_is_complete():
    kinds = {_kind(p) for p in CONFIGS}
    assert len(CONFIGS) >= 35 and kinds == set(LOADERS), (len(CONFIGS), kinds)


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(REPO)) for p in CONFIGS])
def test_every_config_loads_and_round_trips(path, tmp_path):
    load = LOADERS[_kind(path)]
    cfg = load(path)
    save_yaml(cfg, tmp_path / "config.yaml")
    back = load(tmp_path / "config.yaml")
    assert back == cfg
    # readable as before: the plain dict of the dataclasses, in field order
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == dataclasses.asdict(cfg)
    assert (tmp_path / "config.yaml").read_text() == yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False)
