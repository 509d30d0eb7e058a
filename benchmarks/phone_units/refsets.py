"""The aligned reference sets the phone-unit benchmarks share (per_curve.py, switch_cost.py,
allphone_per.py, teacher_per.py): utterances with pocketsphinx forced alignments (cached under
data/align/), as ``teachers.phone_ctc.load_aligned`` gives them: ``[(int16 samples, segments)]``.

- ``asterisk_valid()``: the English Asterisk valid split (the real studio voice, other prompts
  than the teachers trained on);
- ``espeak_fortunes()``: the small LM tier's fortunes read by espeak-ng (en-us, en-us+f3, en-gb),
  the utterances pocketsphinx could align.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ESPEAK = ("en-us", "en-us_f3", "en-gb")


def _aligned(manifest: str, cache: str, speakers: tuple[str, ...] | None = None) -> list:
    from speechtok.data.forced_align import align_manifest
    from speechtok.data.manifest import list_inputs
    from speechtok.teachers.phone_ctc import load_aligned

    utts = [u for u in list_inputs(ROOT / manifest) if speakers is None or u.speaker in speakers]
    rows = align_manifest(utts, ROOT / cache, progress=False)
    return load_aligned([rows[u.id] for u in utts if u.id in rows])


def asterisk_valid() -> list:
    return _aligned("data/asterisk-en/valid.jsonl", "data/align/asterisk-en-valid.jsonl")


def espeak_fortunes() -> list:
    return _aligned("data/lm/fortunes/train.jsonl", "data/align/fortunes-espeak.jsonl", ESPEAK)


def dedup(seq) -> list[int]:
    """Consecutive repeats merged (a run of one phone is one token)."""
    return [int(x) for i, x in enumerate(seq) if i == 0 or x != seq[i - 1]]
