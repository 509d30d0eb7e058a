"""Shared fixtures: the real speech clips shipped with speechtok."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechtok.audio import load_audio
from speechtok.data import shipped_clips


@pytest.fixture(scope="session")
def speech_paths() -> list[Path]:
    """The 4 shipped clips (Asterisk prompts in en, es, fr, it; 2-5 s, 16 kHz mono wav)."""
    return [Path(u.path) for u in shipped_clips()]


@pytest.fixture(scope="session")
def speech_clips(speech_paths) -> list[tuple[str, "np.ndarray", int]]:  # noqa: F821
    """``(name, audio float32 (samples,), sample_rate)`` for each clip."""
    return [(p.stem, *load_audio(p)) for p in speech_paths]


# Tests never reach the network: with the Hugging Face hub offline, a model that is not on disk
# fails at once with a clear error instead of retrying connections for minutes.
import os  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
