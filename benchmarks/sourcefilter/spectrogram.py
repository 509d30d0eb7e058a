"""Log spectrograms (0-3 kHz by default) of a clip and its decodings: are the harmonics, the pitch
contour and the formant movement there? (and, with --top-hz 8000, nothing invented above a
narrowband input's band)

    python benchmarks/sourcefilter/spectrogram.py --out benchmarks/sourcefilter/spectrogram.png
"""

from __future__ import annotations

import argparse

import matplotlib
import numpy as np

import speechtok
from speechtok.audio import load_audio

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def log_spec(y: np.ndarray, n: int = 1024, hop: int = 160) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, (0, n)), n)[::hop] * np.hanning(n)
    return 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)).T + 1e-6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clip", default="speechtok/assets/clips/en_privacy-prompt.wav")
    ap.add_argument("-t", "--tokenizer", action="append", default=None)
    ap.add_argument("--out", default="benchmarks/sourcefilter/spectrogram.png")
    ap.add_argument("--top-hz", type=float, default=3100.0, help="highest frequency shown (8000: the whole band)")
    args = ap.parse_args()
    names = args.tokenizer or ["speechtok-base@1.45kbps", "speechtok-25hz@0.725kbps", "opus@6kbps"]
    x, sr = load_audio(args.clip, 16000)
    rows = [("original", x)]
    for name in names:
        tok = speechtok.load(name)
        rows.append((name, tok.decode(tok.encode(x, sr))[0]))
    fig, axes = plt.subplots(len(rows), 1, figsize=(12, 2.8 * len(rows)))
    top = min(513, int(round(args.top_hz * 1024 / 16000)))  # bins: 200 * 16000 / 1024 = 3.1 kHz
    for ax, (title, y) in zip(axes, rows):
        s = log_spec(y)[:top]
        ax.imshow(s, origin="lower", aspect="auto", vmin=s.max() - 80, vmax=s.max(), extent=[0, len(y) / 16000, 0, top * 16000 / 1024])
        ax.set_title(title)
        ax.set_ylabel("Hz")
    axes[-1].set_xlabel("s")
    plt.tight_layout()
    plt.savefig(args.out, dpi=70)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
