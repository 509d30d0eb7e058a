"""Shared fixtures: real speech clips (the shipped ones, or espeak-ng sentences when absent)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from speechtok.audio import load_audio

SHIPPED = Path(__file__).resolve().parent.parent / "speechtok" / "assets" / "clips"
SENTENCES = {  # used only when the shipped clips are not there
    "en": "Please enter your phone number, starting with the area code.",
    "fr": "Veuillez entrer votre numéro de téléphone.",
    "es": "Marque el asterisco para anular este mensaje.",
}


def _shipped_paths() -> list[Path]:
    try:
        from speechtok.data import shipped_clips
    except ImportError:
        return sorted(SHIPPED.glob("*.wav"))
    return [Path(getattr(c, "path", c)) for c in shipped_clips()]


@pytest.fixture(scope="session")
def speech_paths(tmp_path_factory) -> list[Path]:
    """Paths of 3-5 short real speech wavs (mono, 16 kHz for the shipped ones)."""
    paths = _shipped_paths()
    if paths:
        return paths
    if not shutil.which("espeak-ng"):
        pytest.skip("no shipped clips and no espeak-ng to synthesise speech (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("espeak")
    for lang, text in SENTENCES.items():
        subprocess.run(["espeak-ng", "-v", lang, "-w", str(folder / f"{lang}.wav"), text], check=True)
    return sorted(folder.glob("*.wav"))


@pytest.fixture(scope="session")
def speech_clips(speech_paths) -> list[tuple[str, "np.ndarray", int]]:  # noqa: F821
    """``(name, audio float32 (samples,), sample_rate)`` for each clip."""
    return [(p.stem, *load_audio(p)) for p in speech_paths]
