"""Run folders: what a training run leaves and ``speechtok.load(path)`` reads back.

A run folder holds ``config.yaml`` (the run's whole config; ``design:`` says which codec design
reads it) and ``model.safetensors`` (the weights), plus files a design adds beside them. This
module reads and writes those files for every design, each file once: the config is parsed
once, and the weights' bytes are read once for both their digest (the model id every Tokens
carries) and their tensors. It knows no model class: a design builds its model from
``RunFolder.data`` and hands it the state read here.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import SpeechtokError
from .fsutil import write_atomic

CONFIG = "config.yaml"
WEIGHTS = "model.safetensors"
DESIGNS = ("sourcefilter", "endtoend")


def parse_design(data, where: str | Path) -> str:
    """The codec design a parsed config names (``endtoend`` when it names none)."""
    design = data.get("design", "endtoend") if isinstance(data, dict) else "endtoend"
    if design not in DESIGNS:
        raise ValueError(f"{where}: design must be sourcefilter or endtoend, not {design!r}")
    return design


#: libyaml's safe loader where PyYAML has it (ten times faster than the pure-Python one)
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str):
    """``yaml.safe_load`` of ``text``, with libyaml when present."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def read_yaml(path: str | Path) -> dict:
    """A YAML file that must hold a mapping; ValueError naming the file otherwise."""
    p = Path(path)
    try:
        data = parse_yaml(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{p}: cannot read config ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a config must be a mapping at the top level")
    return data


@dataclass
class RunFolder:
    """A run folder found on disk, its config already parsed (``data``)."""

    folder: Path
    config: Path
    weights: Path
    data: dict

    @property
    def design(self) -> str:
        try:
            return parse_design(self.data, self.config)
        except ValueError as e:
            raise SpeechtokError(str(e)) from None


def run_files(path: str | Path) -> tuple[Path, Path]:
    """``(config.yaml, model.safetensors)`` of a run folder (or of a weights file's folder), or a
    SpeechtokError naming what is missing."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    weights = path if path.suffix == ".safetensors" else folder / WEIGHTS
    config = folder / CONFIG
    for f, what in ((config, CONFIG), (weights, WEIGHTS)):
        if not f.exists():
            raise SpeechtokError(f"{folder}: not a speechtok run folder (no {what})")
    return config, weights


def open_run(path: str | Path) -> RunFolder:
    """A run folder (or a weights file with config.yaml beside it), its config read once."""
    config, weights = run_files(path)
    try:
        data = read_yaml(config)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    return RunFolder(config.parent, config, weights, data)


def read_safetensors(path: str | Path) -> tuple[dict, dict, str]:
    """``(tensors as float32 where floating, metadata, digest)`` of a safetensors file, from one
    read of its bytes; ``digest``: the first 12 hex digits of their SHA-256 (``fsutil.file_digest``)."""
    from safetensors.torch import load

    try:
        raw = Path(path).read_bytes()
        state = load(raw)
        (n,) = struct.unpack("<Q", raw[:8])
        meta = json.loads(raw[8 : 8 + n]).get("__metadata__") or {}
    except Exception as e:
        raise SpeechtokError(f"{path}: cannot read weights ({e})") from None
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    return state, meta, hashlib.sha256(raw).hexdigest()[:12]


def load_state(model, state: dict, config: Path, weights: Path, optional: tuple[str, ...] = ()) -> None:
    """``state`` -> ``model``, every key accounted for except those starting with an ``optional``
    prefix; errors name the files."""
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.startswith(optional)] if optional else missing
    if missing or unexpected:
        raise SpeechtokError(f"{weights}: weights do not match {config} (missing {missing[:3]}, unexpected {unexpected[:3]})")


def load_weights(model, config: Path, weights: Path, optional: tuple[str, ...] = ()) -> str:
    """safetensors -> ``model`` (as float32, see ``load_state``); returns the weights' digest."""
    state, _, digest = read_safetensors(weights)
    load_state(model, state, config, weights, optional)
    return digest


def save_weights(path: str | Path, state: dict, metadata: dict | None = None) -> Path:
    """Tensors -> a safetensors file, atomically (``metadata``: strings)."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in state.items()}
    return write_atomic(path, lambda p: save_file(state, str(p), metadata=metadata))


def save_run(folder: str | Path, state: dict, config: dict) -> Path:
    """``model.safetensors`` + ``config.yaml`` (the run's whole config, as a dict) in ``folder``."""
    folder = Path(folder)
    save_weights(folder / WEIGHTS, state)
    write_atomic(folder / CONFIG, lambda p: p.write_text(yaml.safe_dump(config, sort_keys=False)))
    return folder
