"""Forced phone alignment of English speech with pocketsphinx, cached in a JSON Lines file.

``align(wav, text)`` gives phone segments for one utterance; ``align_manifest`` aligns every
English utterance of a manifest that has a transcript and appends one row per utterance to a
cache file, so an interrupted run resumes where it stopped::

    {"id", "path", "num_samples", "text", "words": [[word, start, end], ...],
     "phones": [[phone, start, end], ...], "aligner", "error"}

Times are seconds (pocketsphinx's frames are 10 ms). Text is normalised by flite (numbers,
abbreviations: "911" -> "nine hundred eleven"); words missing from pocketsphinx's CMUdict get
their pronunciation from flite's letter-to-sound rules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import MissingDependencyError, SpeechtokError
from .phones import SAMPLE_RATE, Segment, phone_id, segments_from_rows, segments_to_rows

ALIGNER_VERSION = "pocketsphinx-en-us-2"
FRAME_SECONDS = 0.01  # pocketsphinx's frame shift
PAD_SAMPLES = 4800


class AlignmentError(SpeechtokError, ValueError):
    """The aligner could not fit the transcript to the audio."""


def flite_binary() -> str:
    exe = shutil.which("flite")
    if exe is None:
        raise MissingDependencyError("flite is needed (text normalisation, pronunciations): apt-get install flite")
    return exe


def normalize_text(text: str) -> list[str]:
    """Transcript -> lower-case words as flite reads them (numbers spelled out, "'s" joined)."""
    out = subprocess.run([flite_binary(), "-pw", "-t", text, "-o", "none"], capture_output=True, text=True, check=True)
    words: list[str] = []
    for w in out.stdout.split():
        w = re.sub(r"[^a-z']", "", w.lower())
        if not w:
            continue
        if w.startswith("'") and words:  # flite splits "it's" into "it" "'s"
            words[-1] += w
        else:
            words.append(w)
    return words


def flite_pronunciation(word: str) -> list[str]:
    """Flite's letter-to-sound phones for one word, mapped to our inventory (ARPAbet)."""
    out = subprocess.run([flite_binary(), "-ps", "-t", word, "-o", "none"], capture_output=True, text=True, check=True)
    from .phones import PHONES

    return [PHONES[phone_id(p)] for p in out.stdout.split() if phone_id(p) != 0]


class Aligner:
    """A pocketsphinx decoder (US English acoustic model + CMUdict) kept loaded between calls."""

    def __init__(self):
        try:
            from pocketsphinx import Decoder
        except ImportError:
            raise MissingDependencyError("forced alignment needs pocketsphinx: pip install 'pocketsphinx>=5'") from None
        self._decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def _ensure_words(self, words: list[str]) -> None:
        for w in set(words):
            if self._decoder.lookup_word(w) is None:
                phones = flite_pronunciation(w)
                if not phones:
                    raise AlignmentError(f"no pronunciation for word {w!r}")
                self._decoder.add_word(w, " ".join(phones), True)

    def _run(self, pcm: bytes, words: list[str]):
        d = self._decoder
        # Pass 1 finds word boundaries under the transcript's grammar, pass 2 the phones in them.
        d.set_align_text(" ".join(words))
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        if d.hyp() is None:
            raise RuntimeError("no word path")
        d.set_alignment()
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        alignment = d.get_alignment()
        if alignment is None:
            raise RuntimeError("no phone alignment")
        return alignment

    def align(self, wav: np.ndarray, text: str) -> tuple[list[Segment], list[Segment]]:
        """``wav`` float32 ``(samples,)`` at 16 kHz + its transcript -> (phones, words) segments.

        Raises AlignmentError when the transcript is empty or cannot be fitted to the audio."""
        words = normalize_text(text)
        if not words:
            raise AlignmentError(f"transcript has no words: {text!r}")
        self._ensure_words(words)
        # 0.3 s of faint noise on each side: without it pocketsphinx's phone pass fails on
        # utterances that start or end right at the speech ("Failed to stop utterance processing")
        pad = (np.random.default_rng(0).standard_normal(PAD_SAMPLES) * 1e-4).astype(np.float32)
        pcm = (np.clip(np.concatenate([pad, wav, pad]), -1, 1) * 32767).astype(np.int16).tobytes()
        try:
            alignment = self._run(pcm, words)
        except RuntimeError:
            # pocketsphinx sometimes fails inside end_utt after many utterances (state carried
            # over, e.g. live CMN): a fresh decoder aligns the same audio; fail only if it fails too
            self._decoder = type(self._decoder)(samprate=SAMPLE_RATE, loglevel="FATAL")
            self._ensure_words(words)
            try:
                alignment = self._run(pcm, words)
            except RuntimeError as e:
                raise AlignmentError(f"the transcript could not be fitted to the audio ({e})") from None
        dur, shift = len(wav) / SAMPLE_RATE, PAD_SAMPLES / SAMPLE_RATE

        def seg(name, start, frames):  # back to the unpadded time line, clipped to the audio
            a = min(max(start * FRAME_SECONDS - shift, 0.0), dur)
            b = min(max((start + frames) * FRAME_SECONDS - shift, 0.0), dur)
            return Segment(name, round(a, 4), round(b, 4)) if b > a else None

        phones, word_segs = [], []
        for w in alignment:
            name = re.sub(r"\(\d+\)$", "", w.name)  # alternative pronunciations: "a(2)"
            word_segs.append(seg(name, w.start, w.duration))
            phones.extend(seg(p.name, p.start, p.duration) for p in w)
        phones, word_segs = [p for p in phones if p], [w for w in word_segs if w]
        if not phones:
            raise AlignmentError("pocketsphinx gave an empty alignment")
        return phones, word_segs


def read_alignments(path: str | os.PathLike, ok_only: bool = True) -> dict[str, dict]:
    """Alignment cache -> {utterance id: row}. A truncated last line (an interrupted run) is skipped."""
    p = Path(path)
    rows: dict[str, dict] = {}
    if not p.exists():
        return rows
    with open(p, encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not ok_only or not row.get("error"):
                rows[row["id"]] = row
    return rows


def phone_segments(row: dict) -> list[Segment]:
    return segments_from_rows(row["phones"])


def english_with_text(utterances) -> list:
    """The utterances an English aligner can use: language en* (or unknown) with a transcript."""
    return [u for u in utterances if u.text and (u.language or "en").lower().startswith("en")]


def align_manifest(utterances: Iterable, cache: str | os.PathLike, progress: bool = True,
                  retry_errors: bool = False) -> dict[str, dict]:
    """Align every English utterance with a transcript not yet in ``cache``; append its row.

    Each row is written and flushed whole, so an interruption loses at most the utterance in
    progress. Failures are cached too (with ``error``) and retried only with ``retry_errors``
    (a later ok row replaces them on reading). Returns the ok rows."""
    from tqdm import tqdm

    from ..audio import load_audio

    cache = Path(cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    done = read_alignments(cache, ok_only=retry_errors)
    todo = [u for u in english_with_text(utterances) if u.id not in done]
    aligner = Aligner() if todo else None
    with open(cache, "a", encoding="utf-8") as f:
        for u in tqdm(todo, desc="align", unit="utt", disable=not progress):
            row = {"id": u.id, "path": u.path, "text": u.text, "aligner": ALIGNER_VERSION, "error": None}
            try:
                wav, _ = load_audio(u.path, SAMPLE_RATE)
                row["num_samples"] = len(wav)
                phones, words = aligner.align(wav, u.text)
                row["words"] = segments_to_rows(words)
                row["phones"] = segments_to_rows(phones)
            except (AlignmentError, SpeechtokError) as e:
                row["error"] = str(e)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
    return read_alignments(cache)


def main(argv=None) -> int:
    """``python -m speechtok.data.forced_align MANIFEST... --out ALIGNMENTS.jsonl`` (resumable)."""
    import argparse

    from .manifest import list_inputs

    p = argparse.ArgumentParser(prog="python -m speechtok.data.forced_align",
                                description="Forced-align the English utterances of manifests (pocketsphinx); resumable.")
    p.add_argument("manifests", nargs="+", help="manifests (.jsonl) or folders; English utterances with text are aligned")
    p.add_argument("--out", required=True, help="alignment cache (.jsonl), appended to")
    p.add_argument("--retry-errors", action="store_true")
    args = p.parse_args(argv)
    utts = [u for m in args.manifests for u in list_inputs(m)]
    rows = align_manifest(utts, args.out, retry_errors=args.retry_errors)
    print(f"{len(rows)} aligned utterances in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
