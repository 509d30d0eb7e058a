"""Spectrograms of one held-out test prompt: the recording, the codec's resynthesis of it and
speechtok-tts-en reading its text (harmonics, formant movement, durations side by side).

    python benchmarks/tts/spectrogram.py --id en/followme/pls-hold-while-try --out benchmarks/tts/spectrogram-en.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sourcefilter"))
from spectrogram import log_spec  # noqa: E402

from speechtok.audio import load_audio  # noqa: E402
from speechtok.tts import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--manifest", default="data/asterisk/test.jsonl")
    ap.add_argument("--id", default="en/followme/pls-hold-while-try")
    ap.add_argument("--model", default="speechtok-tts-en")
    ap.add_argument("--out", default="benchmarks/tts/spectrogram-en.png")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = Path(args.manifest)
    row = next(r for r in map(json.loads, m.read_text().splitlines()) if r["id"] == args.id)
    v = load(args.model)
    ref, sr = load_audio(m.parent / row["path"], v.sample_rate)
    panels = [("recording", ref), ("speechtok-base resynthesis", v.tokenizer.decode(v.tokenizer.encode(ref, sr))[0]),
              (f"{args.model} reading the text", v.say(row["text"]))]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 8), sharex=True)
    for ax, (title, y) in zip(axes, panels):
        s = log_spec(np.asarray(y, np.float32))
        ax.imshow(s, origin="lower", aspect="auto", extent=[0, len(y) / sr, 0, sr / 2], vmin=s.max() - 80, vmax=s.max(), cmap="magma")
        ax.set_ylim(0, 5000)
        ax.set_title(f"{title} ({len(y) / sr:.2f} s)")
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel(f"s  —  “{row['text']}”")
    fig.tight_layout()
    fig.savefig(args.out, dpi=80)
    print(args.out)


if __name__ == "__main__":
    main()
