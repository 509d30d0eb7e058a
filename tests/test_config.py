"""The config engine (``speechtok/codec/config.py``, dataclasses checked by pydantic): every
committed config, run folder and shipped voice still loads, save_yaml round-trips, a bad value is
one line naming the file and the key, and the shipped configs, built without pydantic on load, are
built exactly as pydantic builds them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from speechtok.codec import config as engine
from speechtok.codec.config import load_run_config, run_config_from_dict, save_yaml
from speechtok.codec.sourcefilter.config import RefinerConfig, SourceFilterConfig, load_sf_config, sf_config_from_dict
from speechtok.lm.config import lm_config_from_dict, load_lm_config
from speechtok.tts.config import load_tts_config, tts_config_from_dict

REPO = Path(__file__).resolve().parent.parent
LOADERS = {"endtoend": load_run_config, "sourcefilter": load_sf_config, "lm": load_lm_config, "tts": load_tts_config}
FROM_DICT = {"endtoend": run_config_from_dict, "sourcefilter": sf_config_from_dict, "lm": lm_config_from_dict,
             "tts": tts_config_from_dict}


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


#: the shipped models and voices: ``speechtok.load`` and ``tts.load`` build them without pydantic
SHIPPED = [p for p in CONFIGS if "assets" in p.relative_to(REPO).parts]


def test_the_list_of_configs_is_complete():
    kinds = {_kind(p) for p in CONFIGS}
    assert len(CONFIGS) >= 35 and kinds == set(LOADERS), (len(CONFIGS), kinds)
    assert len(SHIPPED) >= 7 and {_kind(p) for p in SHIPPED} >= {"sourcefilter", "tts"}


def _typed(x):
    """A config as nested (type, value) pairs: 50 and 50.0 differ."""
    if dataclasses.is_dataclass(x):
        return type(x), {f.name: _typed(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if isinstance(x, list):
        return [_typed(v) for v in x]
    if isinstance(x, dict):
        return {k: _typed(v) for k, v in x.items()}
    return type(x), x


def _no_pydantic(*_):
    raise AssertionError("a trusted config was checked by pydantic")


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_a_shipped_config_is_built_without_pydantic_as_pydantic_builds_it(path, monkeypatch):
    from_dict = FROM_DICT[_kind(path)]
    data = yaml.safe_load(path.read_text())
    checked = engine.config_from_data(path, data, None, from_dict)
    with monkeypatch.context() as m:
        m.setattr(engine, "_adapter", _no_pydantic)
        trusted = engine.config_from_data(path, data, None, from_dict, trusted=True)
    assert _typed(trusted) == _typed(checked)
    # the low-latency refiner beside a shipped model: its config (in the weights' metadata) too
    refiner = path.parent / "lowlatency-refiner.safetensors"
    if refiner.exists():
        from speechtok.runs import read_safetensors

        meta = json.loads(read_safetensors(refiner)[1]["config"])
        checked = engine.build_config(RefinerConfig, meta)
        with monkeypatch.context() as m:
            m.setattr(engine, "_adapter", _no_pydantic)
            trusted = engine.build_config(RefinerConfig, meta, trusted=True)
        assert _typed(trusted) == _typed(checked)


def test_a_trusted_config_that_does_not_fit_is_checked():
    with pytest.raises(ValueError) as e:
        engine.build_config(RefinerConfig, {"layerz": 2}, "config", trusted=True)
    assert str(e.value) == "config: unknown key(s) ['layerz']; known: ['channels', 'enabled', 'kernel_size', " \
                           "'layers', 'lookahead']"
    # the rules between fields are run by a trusted build too; a broken one is reported as by a check
    with pytest.raises(ValueError, match=r"^quant.semantic joint needs quant.semantic_weight > 0$"):
        engine.build_config(SourceFilterConfig, {"quant": {"semantic": "joint"}}, trusted=True)


def test_a_user_run_folder_is_checked(tmp_path):
    """Only the shipped models are trusted: a run folder given by path is checked as a config file."""
    import shutil

    import speechtok
    from speechtok.errors import SpeechtokError

    run = tmp_path / "run"
    shutil.copytree(REPO / "speechtok" / "assets" / "models" / "speechtok-fast", run)
    data = yaml.safe_load((run / "config.yaml").read_text())
    data["model"]["quant"]["num_stages"] = 0
    (run / "config.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SpeechtokError) as e:
        speechtok.load(run)
    assert str(e.value) == f"{run / 'config.yaml'}: model.quant.num_stages: must be at least 1, got 0"


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


@pytest.mark.parametrize("file, override, message", [
    ("base-50hz.yaml", "train.steps=-5", "train.steps: must be at least 1, got -5"),
    ("base-50hz.yaml", "train.batch_size=2.0", "train.batch_size: expected a whole number, got 2.0"),
    ("base-50hz.yaml", "train.lr=fast", "train.lr: expected a number, got 'fast'"),
    ("base-50hz.yaml", "train.betas=[0.5,1.5]", "train.betas[1]: must be between 0 and 1, got 1.5"),
    ("base-50hz.yaml", "model.quantizer.kind=pq", "model.quantizer.kind: must be 'rvq', 'fsq', 'vq', 'lfq', 'bsq' or 'mcrvq', got 'pq'"),
    ("base-50hz.yaml", "model.quantizer.dropout=maybe", "model.quantizer.dropout: expected true or false, got 'maybe'"),
    ("base-50hz.yaml", "model.encoder=3", "model.encoder: expected a mapping of keys, got 3"),
    ("base-50hz.yaml", "model.frame_rate=25", "model: encoder patch × strides = 320 samples, but frame rate 25.0 Hz"),
    ("base-50hz.yaml", "train.stepz=3", "train: unknown key(s) ['stepz']; known: ['accelerator', "),
    ("sourcefilter-50hz.yaml", "model.analysis.alpha=1.5", "model.analysis.alpha: must be between 0 and 0.99, got 1.5"),
    ("sourcefilter-50hz.yaml", "model.quant.semantic=joint", "model: quant.semantic joint needs quant.semantic_weight > 0"),
    ("lm-tiny.yaml", "model.hidden=0", "model.hidden: must be at least 1, got 0"),
    ("lm-tiny.yaml", "model.hidden=130", "model.hidden (130) must be a multiple of model.heads (4)"),
    ("tts-en-allison.yaml", "stagez=1", "top level: unknown key(s) ['stagez']; known: ['codec', "),
])
def test_a_bad_value_is_one_line_naming_the_file_and_the_key(file, override, message):
    path = REPO / "configs" / file
    with pytest.raises(ValueError) as e:
        LOADERS[_kind(path)](path, [override])
    text = str(e.value)
    assert "\n" not in text and text.startswith(f"{path}: {message}"), text


def test_values_are_read_as_before():
    path = REPO / "configs" / "base-50hz.yaml"
    cfg = load_run_config(path, ["train.lr=8e-4", "model.quantizer=", "train.max_minutes=2"])
    assert cfg.train.lr == 8e-4  # YAML 1.1 reads 8e-4 as a string
    assert cfg.model.quantizer == type(cfg.model.quantizer)()  # an empty section: its defaults
    assert isinstance(cfg.train.max_minutes, float) and cfg.train.max_minutes == 2.0


def test_assignments_are_checked_and_dataclass_tools_work():
    cfg = load_sf_config(REPO / "configs" / "sourcefilter-50hz.yaml")
    method = cfg.model.analysis.method
    cfg.train.refiner_steps = 10
    with pytest.raises(ValueError, match="refiner_steps"):
        cfg.train.refiner_steps = -1
    with pytest.raises(ValueError, match="method"):
        cfg.model.analysis.method = "foo"
    assert cfg.train.refiner_steps == 10 and cfg.model.analysis.method == method
    faster = dataclasses.replace(cfg.train, workers=3)
    assert faster.workers == 3 and faster.refiner_steps == 10
    with pytest.raises(ValueError, match="workers"):
        dataclasses.replace(cfg.train, workers=0)
    assert dataclasses.asdict(cfg)["model"]["analysis"]["method"] == method


@pytest.mark.parametrize("flags, message", [
    (["--max-minutes", "-1"], "train.refiner_minutes: must be at least 0, got -1.0"),
    (["--devices", "two"], "train.devices: expected a whole number, got 'two'"),
])
def test_source_filter_train_flags_are_checked_with_the_config(flags, message, tmp_path, capsys):
    from speechtok.cli import main

    path = REPO / "configs" / "sourcefilter-50hz.yaml"
    assert main(["train", str(path), "--out", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"speechtok train: error: {path}: {message}"
    assert not (tmp_path / "run").exists()
