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


def _exact(utts_voices) -> list:
    """``[(utterance, espeak-ng voice)]`` -> ``[(int16 samples, segments)]`` whose phones are what
    the voice said (its own ``-x`` phonemes in ARPAbet; evenly spaced times: only the sequence is
    used, by greedy PER)."""
    import numpy as np

    from speechtok.audio import load_audio
    from speechtok.data.phones import Segment
    from speechtok.data.teacher_align import espeak_words

    out = []
    for u, voice in utts_voices:
        wav, _ = load_audio(u.path, 16000)
        phones = [p for w in espeak_words(u.text, voice) for p in w]
        step = len(wav) / 16000 / max(1, len(phones))
        out.append(((np.clip(wav, -1, 1) * 32767).astype(np.int16),
                    [Segment(p, i * step, (i + 1) * step) for i, p in enumerate(phones)]))
    return out


def espeak_fortunes_exact() -> list:
    """All 180 espeak-ng fortunes of the small LM tier (voices the v3/v4 teachers trained on), with
    the phones the voice said as reference (no forced aligner in between)."""
    from speechtok.data.manifest import list_inputs

    utts = [u for u in list_inputs(ROOT / "data/lm/fortunes/train.jsonl") if u.speaker in ESPEAK]
    return _exact([(u, u.speaker.replace("_", "+")) for u in utts])


HELD_OUT_VOICE = "en-us+m3"  # the LM bench's held-out lexical voice: no teacher and no LM trained on it


def espeak_heldout(n: int = 60) -> list:
    """``n`` of the small tier's fortunes texts read by espeak-ng en-us+m3 (synthesized once into
    data/align/espeak-m3/), exact phones as reference: the synthesizer family on a voice no
    teacher heard."""
    from speechtok.data.manifest import Utterance, list_inputs
    from speechtok.lm.synthetic import synthesize

    texts = sorted({u.text for u in list_inputs(ROOT / "data/lm/fortunes/train.jsonl") if u.speaker == "en-us"})[:n]
    folder = ROOT / "data/align/espeak-m3"
    utts = []
    for i, t in enumerate(texts):
        path = folder / f"{i:03d}.wav"
        if not path.exists():
            synthesize(t, HELD_OUT_VOICE, path)
        utts.append(Utterance(id=f"m3/{i:03d}", path=str(path), speaker=HELD_OUT_VOICE, text=t))
    return _exact([(u, HELD_OUT_VOICE) for u in utts])
