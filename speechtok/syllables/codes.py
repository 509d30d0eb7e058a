"""The duration and pitch streams of the syllable tokens: codes <-> seconds and Hz.

Shared by the tokenizer (``tokenizer.py``) and its decoder (``decoder.py``), below both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "syllables"
DUR_LEVELS, DUR_MIN, DUR_MAX = 16, 0.02, 1.0
F0_LEVELS, F0_LO, F0_HI = 32, 60.0, 400.0


# ---- the three streams ----------------------------------------------------------------------
def duration_code(seconds) -> np.ndarray:
    d = np.maximum(np.asarray(seconds, np.float64), 1e-6)
    q = np.round((DUR_LEVELS - 1) * np.log(d / DUR_MIN) / np.log(DUR_MAX / DUR_MIN))
    return np.clip(q, 0, DUR_LEVELS - 1).astype(np.int64)


def duration_value(code) -> np.ndarray:
    """The duration (s) a code stands for: the centre of its log step."""
    return DUR_MIN * (DUR_MAX / DUR_MIN) ** (np.asarray(code, np.float64) / (DUR_LEVELS - 1))


def pitch_code(f0_hz) -> np.ndarray:
    """Mean F0 (Hz; 0 or less = unvoiced) -> pitch codes 0..32."""
    f = np.asarray(f0_hz, np.float64)
    q = np.round((F0_LEVELS - 1) * np.log(np.maximum(f, 1e-3) / F0_LO) / np.log(F0_HI / F0_LO))
    return np.where(f > 0, 1 + np.clip(q, 0, F0_LEVELS - 1), 0).astype(np.int64)


def pitch_value(code) -> np.ndarray:
    """Pitch code -> Hz (0 for unvoiced)."""
    c = np.asarray(code, np.float64)
    return np.where(c > 0, F0_LO * (F0_HI / F0_LO) ** ((c - 1) / (F0_LEVELS - 1)), 0.0)


def decoder_paths(k: int | str) -> tuple[Path, Path]:
    """The shipped decoder of ``syllables:kK`` (an int ``k``) or of another unit family (a string
    key, e.g. ``"phones"`` for ``phone-units``): (weights .safetensors, config .json)."""
    stem = f"decoder_k{k}" if isinstance(k, int) else f"decoder_{k}"
    return ASSET_DIR / f"{stem}.safetensors", ASSET_DIR / f"{stem}.json"
