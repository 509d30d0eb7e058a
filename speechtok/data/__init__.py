"""Data: manifests of utterances, input listing, and the speech corpora speechtok uses.

    >>> from speechtok.data import shipped_clips
    >>> clips = shipped_clips()          # 4 held-out Asterisk prompts: en, es, fr, it; 16 kHz wav
    >>> clips[0].path, clips[0].text
"""

from __future__ import annotations

from pathlib import Path

from .manifest import ManifestError, Utterance, list_inputs, read_manifest, write_manifest

_CLIPS_DIR = Path(__file__).resolve().parent.parent / "assets" / "clips"


def clips_manifest_path() -> Path:
    """Path of the manifest of the clips shipped with speechtok (speechtok/assets/clips/clips.jsonl)."""
    return _CLIPS_DIR / "clips.jsonl"


def shipped_clips() -> list[Utterance]:
    """The 2-5 s clips shipped with speechtok: one per language/voice of the Asterisk prompts
    (en, es, fr, it), all from its test split; 16 kHz mono 16-bit wav, with transcripts.
    Licences and credits: speechtok/assets/clips/ATTRIBUTION.md."""
    return read_manifest(clips_manifest_path())


__all__ = [
    "ManifestError",
    "Utterance",
    "clips_manifest_path",
    "list_inputs",
    "read_manifest",
    "shipped_clips",
    "write_manifest",
]
