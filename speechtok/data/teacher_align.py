"""Phone alignments of a known phone sequence, placed on the time line by a PhoneCTC teacher.

pocketsphinx's forced alignment (``forced_align.py``) aligns the dictionary's pronunciation, not
what was said, and gives up on about 40 % of the synthetic reading speech
(benchmarks/phone_units/teacher_per.md). For speech whose phones are known, this module takes
the sequence as given and finds only its timing: a Viterbi pass over a PhoneCTC teacher's
frame-head log-posteriors (50 Hz), through the phones in order, each at least one frame long,
with an optional silence before, after and between words. Where the phones come from
(``source``):

- ``espeak``: an espeak-ng voice says exactly what its own ``-x`` prints, so a recording made by
  ``espeak-ng -v <voice>`` gets the phones of its text under that voice, mapped onto ARPAbet
  (``espeak_to_arpabet``; the rhotic en-us and non-rhotic en-gb readings of ``A@``, ``3``, ... as
  the voice speaks them);
- ``cmudict``: the first CMUdict pronunciation (pocketsphinx's dictionary) of each word of the
  flite-normalised text, flite's letter-to-sound rules for the rest: festival and flite voices and
  real speech (where the speaker may not have said exactly that: as pocketsphinx, but it never
  fails on a long utterance).

Rows are those of ``forced_align`` (``id``, ``path``, ``num_samples``, ``text``, ``phones``,
``aligner``, ``error``) plus ``source``, appended and flushed one utterance at a time, so a run
resumes where it stopped::

    python -m speechtok.data.teacher_align data/lm/reading/train.jsonl --teacher speechtok/assets/phone_ctc_v3 \\
        --out data/align/reading-teacher.jsonl

(a speaker called ``espeak_<voice>``, ``+`` written ``_``, e.g. ``espeak_en-us_f3``, is read as
espeak-ng voice ``en-us+f3``; every other speaker's phones come from CMUdict).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..errors import SpeechtokError
from .phones import PHONE_TO_ID, PHONES, SAMPLE_RATE, Segment, segments_to_rows

ALIGNER_VERSION = "teacher-viterbi-1"
FRAME = 0.02  # seconds per PhoneCTC frame
ESPEAK_PREFIX = "espeak_"

# espeak-ng's English phoneme mnemonics (stress marks and the ``#`` / digit variants that name the
# same phone stripped first, see ``_espeak_phone``) -> ARPAbet; a tuple of two is a phone pair.
_ESPEAK_COMMON = {
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "g": "G", "f": "F", "v": "V", "T": "TH",
    "D": "DH", "s": "S", "z": "Z", "S": "SH", "Z": "ZH", "h": "HH", "tS": "CH", "dZ": "JH",
    "m": "M", "n": "N", "N": "NG", "l": "L", "r": "R", "w": "W", "j": "Y",
    "@": "AH", "V": "AH", "a": "AE", "aa": "AE", "A:": "AA", "A": "AA", "0": "AA", "O:": "AO",
    "O": "AO", "E": "EH", "e": "EH", "I": "IH", "i": "IY", "i:": "IY", "U": "UH", "u:": "UW",
    "u": "UW", "3:": "ER", "aI": "AY", "aU": "AW", "eI": "EY", "oU": "OW", "o": "OW", "OI": "OY",
    "@-": "AH", "a#": "AH", "x": "K", "@L": ("AH", "L"), "n-": ("AH", "N"), "m-": ("AH", "M"), "l-": ("AH", "L"),
}  # fmt: skip
_ESPEAK_RHOTIC = {  # en-us: the r is said
    "3": "ER", "A@": ("AA", "R"), "O@": ("AO", "R"), "o@": ("AO", "R"), "e@": ("EH", "R"),
    "i@": ("IH", "R"), "i@3": ("IH", "R"), "U@": ("UH", "R"), "aI@": ("AY", "ER"), "aI3": ("AY", "ER"),
    "aU@": ("AW", "ER"), "r-": "R",
}  # fmt: skip
_ESPEAK_NONRHOTIC = {  # en-gb: no r after a vowel (a linking r- before a vowel is rare; dropped)
    "3": "AH", "A@": "AA", "O@": "AO", "o@": "AO", "e@": "EH", "i@": ("IH", "AH"), "i@3": ("IH", "AH"),
    "U@": ("UH", "AH"), "aI@": ("AY", "AH"), "aI3": ("AY", "AH"), "aU@": ("AW", "AH"), "r-": (),
}  # fmt: skip
_ESPEAK_SILENT = {"", ":", ";", "!", "?", "-", "|", "||"}  # pauses, linking and glottal marks


class TeacherAlignError(SpeechtokError, ValueError):
    """A phone sequence that cannot be placed on an utterance (too short, no phones, unknown phone)."""


def rhotic(voice: str) -> bool:
    """Whether an espeak-ng English voice says the r after a vowel (en-us and its variants do)."""
    return voice.split("+")[0].lower() in ("en-us", "en-us-nyc")


def _espeak_phone(symbol: str, is_rhotic: bool) -> tuple[str, ...]:
    s = symbol.lstrip("',%=:!")
    if s in _ESPEAK_SILENT:
        return ()
    table = _ESPEAK_RHOTIC if is_rhotic else _ESPEAK_NONRHOTIC
    for cand in (s, s.rstrip("#"), re.sub(r"[0-9#]", "", s), re.sub(r"[0-9#]", "", s).rstrip(":")):
        for t in (table, _ESPEAK_COMMON):
            if cand in t:
                out = t[cand]
                return (out,) if isinstance(out, str) else tuple(out)
    raise TeacherAlignError(f"espeak-ng phoneme {symbol!r} has no ARPAbet mapping")


def espeak_to_arpabet(phonemes: str, voice: str = "en-us") -> list[list[str]]:
    """espeak-ng ``-x --sep=_`` output (words separated by spaces, phones by ``_``) -> ARPAbet
    phones per word, as ``voice`` says them (``r`` after vowels only for rhotic voices)."""
    is_rhotic = rhotic(voice)
    words = []
    for w in phonemes.split():
        phones: list[str] = []
        for sym in w.split("_"):
            for p in _espeak_phone(sym, is_rhotic):
                if not (p == "R" and phones and phones[-1] in ("R", "ER")):  # en-us r- after a rhotic vowel
                    phones.append(p)
        if phones:
            words.append(phones)
    return words


def espeak_words(text: str, voice: str) -> list[list[str]]:
    """The ARPAbet phones, per word, that ``espeak-ng -v voice`` says for ``text``."""
    from ..lm.synthetic import _need

    res = subprocess.run([_need("espeak-ng", "espeak-ng"), "-q", "-x", "--sep=_", "-v", voice, text],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise TeacherAlignError(f"espeak-ng -x failed for voice {voice!r}: {res.stderr.strip()[:200]}")
    return espeak_to_arpabet(res.stdout, voice)


@lru_cache(maxsize=1)
def _cmudict() -> dict[str, list[str]]:
    from pocketsphinx import get_model_path

    out: dict[str, list[str]] = {}
    with open(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 1 and "(" not in parts[0]:  # first pronunciation only
                out[parts[0]] = [p.rstrip("012") for p in parts[1:]]
    return out


def cmudict_words(text: str) -> list[list[str]]:
    """ARPAbet phones per word of ``text``: CMUdict's first pronunciation, else flite's letter-to-sound."""
    from .forced_align import flite_pronunciation, normalize_text

    d = _cmudict()
    words = []
    for w in normalize_text(text):
        phones = d.get(w) or flite_pronunciation(w)
        if phones:
            words.append(phones)
    return words


def viterbi_align(log_post: np.ndarray, words: Sequence[Sequence[str]], frame: float = FRAME) -> list[Segment]:
    """Place ``words`` (ARPAbet phones per word) on ``(frames, 40)`` frame log-posteriors (class 0 =
    silence): the best path through the phones in order, each at least one frame, with an optional
    silence at the start, the end and between words. Returns the segments, silences included, in
    seconds (frame i = ``[i * frame, (i + 1) * frame)``)."""
    classes, optional = [0], [True]
    for w in words:
        for p in w:
            if p not in PHONE_TO_ID or p == PHONES[0]:
                raise TeacherAlignError(f"unknown phone {p!r}")
            classes.append(PHONE_TO_ID[p])
            optional.append(False)
        classes.append(0)
        optional.append(True)
    n_req = sum(not o for o in optional)
    if n_req == 0:
        raise TeacherAlignError("no phones to align")
    T, S = len(log_post), len(classes)
    if T < n_req:
        raise TeacherAlignError(f"{T} frames cannot hold {n_req} phones")
    cls = np.asarray(classes)
    opt = np.asarray(optional)
    emit = log_post[:, cls]  # (T, S)
    NEG = -1e30
    score = np.full(S, NEG)
    score[0] = emit[0, 0]
    score[1] = emit[0, 1]
    back = np.zeros((T, S), np.int8)  # 0 stay, 1 from s-1, 2 from s-2 (skipping an optional silence)
    skip_ok = np.zeros(S, bool)
    skip_ok[2:] = opt[1:-1]
    for t in range(1, T):
        stay = score
        step = np.concatenate([[NEG], score[:-1]])
        skip = np.where(skip_ok, np.concatenate([[NEG, NEG], score[:-2]]), NEG)
        best = np.maximum(stay, np.maximum(step, skip))
        back[t] = np.where(best == stay, 0, np.where(best == step, 1, 2))
        score = best + emit[t]
    end = S - 1 if score[S - 1] >= score[S - 2] else S - 2
    path = np.zeros(T, np.int64)
    s = end
    for t in range(T - 1, -1, -1):
        path[t] = s
        s -= int(back[t, s])
    segs: list[Segment] = []
    start = 0
    for t in range(1, T + 1):
        if t == T or path[t] != path[start]:
            segs.append(Segment(PHONES[cls[path[start]]], round(start * frame, 4), round(t * frame, 4)))
            start = t
    return segs


def espeak_voice(speaker: str | None) -> str | None:
    """``espeak_en-us_f3`` -> ``en-us+f3``; None for a speaker that is not an espeak-ng voice."""
    if not speaker or not speaker.startswith(ESPEAK_PREFIX):
        return None
    name = speaker[len(ESPEAK_PREFIX):]
    lang, _, variant = name.partition("_")
    return lang + (f"+{variant}" if variant else "")


def align_wav(wav: np.ndarray, words: Sequence[Sequence[str]], teacher: str | os.PathLike) -> list[Segment]:
    """Place ``words`` (ARPAbet phones per word) on a 16 kHz waveform with ``teacher``'s frame posteriors."""
    from ..syllables.tokenizer import phone_posteriors

    post = phone_posteriors(wav, Path(teacher))
    return viterbi_align(np.log(np.maximum(post, 1e-8)), words)


def align_manifest(utterances: Iterable, cache: str | os.PathLike, teacher: str | os.PathLike,
                   progress: bool = True) -> dict[str, dict]:
    """Align every English utterance with a transcript not yet in ``cache`` (espeak-ng speakers by
    their voice's phonemes, the others by CMUdict); append one row each. Returns the ok rows."""
    from tqdm import tqdm

    from ..audio import load_audio
    from .forced_align import english_with_text, read_alignments

    cache = Path(cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = read_alignments(cache, ok_only=False)
    todo = [u for u in english_with_text(utterances) if u.id not in done]
    teacher = Path(teacher)
    with open(cache, "a", encoding="utf-8") as f:
        for u in tqdm(todo, desc="teacher-align", unit="utt", disable=not progress):
            voice = espeak_voice(u.speaker)
            row = {"id": u.id, "path": u.path, "text": u.text, "aligner": ALIGNER_VERSION,
                   "source": "espeak" if voice else "cmudict", "error": None}
            try:
                wav, _ = load_audio(u.path, SAMPLE_RATE)
                row["num_samples"] = len(wav)
                words = espeak_words(u.text, voice) if voice else cmudict_words(u.text)
                row["phones"] = segments_to_rows(align_wav(wav, words, teacher))
            except (TeacherAlignError, SpeechtokError, subprocess.CalledProcessError) as e:
                row["error"] = f"{u.path}: {e}"
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
    return read_alignments(cache)


def main(argv=None) -> int:
    import argparse

    from .manifest import list_inputs

    p = argparse.ArgumentParser(prog="python -m speechtok.data.teacher_align",
                                description="Align known phone sequences (espeak-ng voices' own phonemes, else CMUdict) "
                                            "with a PhoneCTC teacher's frame posteriors; resumable.")
    p.add_argument("manifests", nargs="+", help="manifests (.jsonl) or folders; English utterances with text are aligned")
    p.add_argument("--teacher", required=True, help="a PhoneCTC folder (config.json + model.safetensors)")
    p.add_argument("--out", required=True, help="alignment cache (.jsonl), appended to")
    args = p.parse_args(argv)
    utts = [u for m in args.manifests for u in list_inputs(m)]
    rows = align_manifest(utts, args.out, args.teacher)
    print(f"{len(rows)} aligned utterances in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
