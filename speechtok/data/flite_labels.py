"""Synthetic English speech with exact phone labels, from flite (``apt-get install flite``).

Flite prints each segment's end time as it synthesises (``-psdur``), so its phone timings are
the synthesiser's own, not an aligner's guess. Three 16 kHz clustergen voices (awb, rms, slt)
times a few speaking rates give many voices from unlimited text. (The diphone voices kal/kal16
are left out: their wavs end ~0.1 s before their printed timings.)

``make_synthetic_set`` writes wavs, a manifest and an alignment file in the same row format as
``forced_align.align_manifest``, so phone teachers and the CTC recognizer read both the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .forced_align import flite_binary, read_alignments
from .phones import SAMPLE_RATE, Segment, segments_to_rows

VOICES = ("awb", "rms", "slt")
STRETCHES = (0.85, 1.0, 1.2)  # flite's duration_stretch: >1 is slower
SYNTH_VERSION = "flite-2.2-psdur-1"


def synthesize(text: str, voice: str = "slt", stretch: float = 1.0) -> tuple[np.ndarray, list[Segment]]:
    """Text -> (float32 ``(samples,)`` at 16 kHz, phone segments in seconds, flite's own timings)."""
    from ..audio import load_audio

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.wav"
        cmd = [flite_binary(), "-voice", voice, "--setf", f"duration_stretch={stretch}", "-psdur", "-t", text, "-o", str(out)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not out.exists():
            raise RuntimeError(f"flite failed for voice {voice!r}: {res.stderr.strip()[:200]}")
        wav, _ = load_audio(out, SAMPLE_RATE)
    segments, start = [], 0.0
    for item in res.stdout.split():
        phone, _, end = item.rpartition(":")
        segments.append(Segment(phone, start, float(end)))
        start = float(end)
    return wav, segments


def make_synthetic_set(
    texts: Sequence[str],
    out_dir: str | os.PathLike,
    voices: Sequence[str] = VOICES,
    stretches: Sequence[float] = STRETCHES,
    progress: bool = True,
) -> Path:
    """Synthesise every text in every voice × stretch into ``out_dir`` (resumable).

    Writes ``out_dir/wav/<id>.wav``, ``out_dir/alignments.jsonl`` (appended row by row) and,
    at the end, ``out_dir/manifest.jsonl``. Returns the manifest path."""
    from tqdm import tqdm

    from ..audio import write_audio_atomic
    from .manifest import Utterance, write_manifest

    out = Path(out_dir)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    cache = out / "alignments.jsonl"
    done = read_alignments(cache)
    jobs = []
    for text in texts:
        key = hashlib.sha1(text.encode()).hexdigest()[:10]
        for v in voices:
            for s in stretches:
                jobs.append((f"{v}-{s:g}-{key}", text, v, s))
    utts = []
    with open(cache, "a", encoding="utf-8") as f:
        for uid, text, voice, stretch in tqdm(jobs, desc="synth", unit="utt", disable=not progress):
            path = out / "wav" / f"{uid}.wav"
            if uid not in done or not path.exists():
                wav, segs = synthesize(text, voice, stretch)
                write_audio_atomic(path, wav, SAMPLE_RATE)
                row = {"id": uid, "path": str(path.resolve()), "text": text, "num_samples": len(wav),
                       "phones": segments_to_rows(segs), "aligner": SYNTH_VERSION, "error": None}
                f.write(json.dumps(row) + "\n")
                f.flush()
                done[uid] = row
            n = done[uid]["num_samples"]
            utts.append(Utterance(uid, str(path.resolve()), n / SAMPLE_RATE, voice, "en", text, "synthetic"))
    write_manifest(out / "manifest.jsonl", utts, relative_to=out)
    return out / "manifest.jsonl"


def main(argv=None) -> int:
    """``python -m speechtok.data.flite_labels --fortunes N --out DIR``: N Debian fortunes (a seeded
    sample) read by every flite voice at every stretch, with flite's own phone labels (resumable)."""
    import argparse

    from .fortunes import read_fortunes

    p = argparse.ArgumentParser(prog="python -m speechtok.data.flite_labels",
                                description="Synthetic English speech with exact phone labels (flite), from Debian fortunes.")
    p.add_argument("--fortunes", type=int, required=True, help="how many fortunes (a seeded sample of them)")
    p.add_argument("--out", required=True, help="folder: wav/, alignments.jsonl, manifest.jsonl")
    p.add_argument("--voices", nargs="+", default=list(VOICES))
    p.add_argument("--stretches", nargs="+", type=float, default=list(STRETCHES))
    p.add_argument("--max-chars", type=int, default=160, help="longest fortune kept (characters)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    texts = read_fortunes(max_chars=args.max_chars)
    pick = np.random.default_rng(args.seed).permutation(len(texts))[: args.fortunes]
    manifest = make_synthetic_set([texts[i] for i in sorted(pick)], args.out, args.voices, args.stretches)
    print(manifest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
