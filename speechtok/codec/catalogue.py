"""The shipped models of our codec by name, without loading them: names and facts (sample rate,
frame rate, codebooks) read from each model's config.yaml, so `speechtok list` answers at once.
Loading a model (weights, torch) happens in `pretrained.resolve`, on first use only."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from ..errors import SpeechtokError
from ..runs import parse_yaml
from ..tokenizers.base import codebooks_for_kbps, prefix_kbps

MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
# "+lowlatency": the streaming mode of a source-filter model with the fast analysis (pretrained.py)
_SUFFIX = re.compile(r"^(?P<base>[^@+]+)(?P<low>\+lowlatency)?(?:@(?P<rate>[0-9.]+)kbps)?$")


def sourcefilter_kbps(frame_rate: float, pitch_levels: int, codebook_size: int, stages: int) -> list[float]:
    """Nominal kbps of a source-filter model with 1..``stages`` envelope stages."""
    return prefix_kbps(frame_rate, [pitch_levels] + [codebook_size] * stages, first=2)


@lru_cache(maxsize=16)
def _config(base: str) -> dict | None:
    """The raw config of shipped model ``base`` when it is a source-filter model (else None)."""
    folder = MODELS_DIR / base
    if not ((folder / "config.yaml").is_file() and (folder / "model.safetensors").is_file()):
        return None
    try:
        data = parse_yaml((folder / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) and data.get("design") == "sourcefilter" else None


def _facts(data: dict) -> tuple[int, float, int, int, int]:
    m = data.get("model") or {}
    q = m.get("quant") or {}
    return (int(m.get("sample_rate", 16000)), float(m.get("frame_rate", 50.0)), int(q.get("pitch_levels", 128)),
            int(q.get("codebook_size", 2048)), int(q.get("num_stages", 3)))


def _has_low_latency(data: dict) -> bool:
    m = data.get("model") or {}
    return (m.get("analysis") or {}).get("method", "stft") == "stft" and (m.get("quant") or {}).get("semantic", "none") != "teacher"


def names() -> list[str]:
    out: list[str] = []
    other = False
    if MODELS_DIR.exists():
        for d in sorted(MODELS_DIR.iterdir()):
            data = _config(d.name)
            if data is None:
                other = other or (d / "config.yaml").is_file()
                continue
            _, fr, pitch, size, stages = _facts(data)
            for base in (d.name, f"{d.name}+lowlatency") if _has_low_latency(data) else (d.name,):
                out.append(base)
                out.extend(f"{base}@{k:g}kbps" for k in sourcefilter_kbps(fr, pitch, size, stages))
    if other:  # an end-to-end model: its names need its config classes (and torch)
        from .pretrained import names as e2e_names

        out.extend(n for n in e2e_names() if not _SUFFIX.match(n) or _config(_SUFFIX.match(n)["base"]) is None)
    return out


def describe(name: str) -> dict | None:
    """``{sample_rate, frame_rate, codebook_sizes}`` of a shipped source-filter model name,
    without loading it; None for any other name (the caller loads it)."""
    m = _SUFFIX.match(name)
    data = _config(m["base"]) if m else None
    if data is None or (m["low"] and not _has_low_latency(data)):
        return None
    sr, fr, pitch, size, stages = _facts(data)
    k = stages
    if m["rate"]:
        try:
            k = codebooks_for_kbps(fr, [pitch] + [size] * stages, float(m["rate"]), name, first=2) - 1
        except SpeechtokError:
            return None  # not a rate it offers: loading it says which are
    return {"sample_rate": sr, "frame_rate": fr, "codebook_sizes": [pitch] + [size] * k}


def resolve(name: str):
    m = _SUFFIX.match(name)
    if not m or not (MODELS_DIR / m["base"] / "config.yaml").exists():
        return None  # not a shipped model: no need to import torch to say so
    from .pretrained import resolve as load_shipped

    return load_shipped(name)
