"""A reference tokenizer: MFCC features + k-means, at a chosen frame rate (encode only).

This is HuBERT's first-iteration target (Hsu et al. 2021): 13 MFCCs with deltas and
delta-deltas (39 dims) at 100 Hz, here mean-pooled to the token frame rate, mean-normalised
per utterance, standardised with the training set's statistics, then the nearest of k
centroids. Names: ``mfcc-kmeans@50hz:k500``, ``@25hz``, ``@12.5hz``. Frame i covers samples
``[i*hop, (i+1)*hop)``, hop = 16000 / rate; there are ``ceil(samples / hop)`` frames.

The centroids ship in ``speechtok/assets/mfcc_kmeans/``; they were fitted by::

    python -m speechtok.tokenizers.mfcc_kmeans --data data/asterisk/train.jsonl --rate 50 --k 500

(English utterances of the asterisk train split; see docs/semantic.md).
"""

from __future__ import annotations

import argparse
import re
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..dsp import htk_mel_filterbank, kmeans, nearest
from ..errors import SpeechtokError
from .base import Tokenizer
from ..data.phones import SAMPLE_RATE, num_frames_for

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "mfcc_kmeans"
RATES = (50.0, 25.0, 12.5)
DEFAULT_K = 500
WIN, HOP, NFFT, NMELS, NCEPS = 400, 160, 512, 40, 13  # 25 ms windows every 10 ms


@lru_cache(maxsize=1)
def _mel_dct() -> tuple[np.ndarray, np.ndarray]:
    """Mel filterbank ``(NMELS, NFFT//2+1)`` and DCT-II ``(NCEPS, NMELS)``."""
    fb = htk_mel_filterbank(NMELS, NFFT, sample_rate=SAMPLE_RATE)
    n = np.arange(NMELS)
    dct = np.cos(np.pi / NMELS * (n + 0.5)[None, :] * np.arange(NCEPS)[:, None]) * np.sqrt(2 / NMELS)
    dct[0] /= np.sqrt(2)
    return fb, dct


def _deltas(x: np.ndarray, width: int = 2) -> np.ndarray:
    """Regression deltas along time of ``(frames, dims)`` (edges repeated)."""
    pad = np.pad(x, ((width, width), (0, 0)), mode="edge")
    num = sum(k * (pad[width + k : width + k + len(x)] - pad[width - k : width - k + len(x)]) for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def mfcc(wav: np.ndarray) -> np.ndarray:
    """float32 ``(samples,)`` at 16 kHz -> ``(ceil(samples/160), 39)`` MFCC+Δ+ΔΔ at 100 Hz,
    frame j centred on sample ``j*160 + 80``."""
    fb, dct = _mel_dct()
    n = num_frames_for(len(wav), 100.0)
    pad = (WIN - HOP) // 2
    x = np.pad(wav.astype(np.float64), (pad, pad + n * HOP + WIN - len(wav)))
    x = np.append(x[0], x[1:] - 0.97 * x[:-1])  # pre-emphasis
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP][:n] * np.hamming(WIN)
    power = np.abs(np.fft.rfft(frames, NFFT)) ** 2
    c = np.log(power @ fb.T + 1e-8) @ dct.T
    return np.concatenate([c, _deltas(c), _deltas(_deltas(c))], axis=1).astype(np.float32)


def pooled_features(wav: np.ndarray, frame_rate: float) -> np.ndarray:
    """``(ceil(samples/hop), 39)``: MFCC frames averaged within each token frame, utterance mean removed."""
    f = mfcc(wav)
    n = num_frames_for(len(wav), frame_rate)
    which = np.minimum(((np.arange(len(f)) * HOP + HOP / 2) * frame_rate / SAMPLE_RATE).astype(np.int64), n - 1)
    sums = np.zeros((n, f.shape[1]))
    np.add.at(sums, which, f)
    counts = np.bincount(which, minlength=n)[:, None]
    pooled = sums / np.maximum(counts, 1)
    pooled[counts[:, 0] == 0] = f[-1]  # cannot happen for hops >= 10 ms; kept for odd rates
    return (pooled - pooled.mean(0)).astype(np.float32)


def asset_path(frame_rate: float, k: int) -> Path:
    return ASSET_DIR / f"mfcc-kmeans_{frame_rate:g}hz_k{k}.safetensors"


class MFCCKMeansTokenizer(Tokenizer):
    """Nearest k-means centroid of pooled MFCC features; one codebook of k units; no decoder."""

    version = "1"
    sample_rate = SAMPLE_RATE
    can_decode = False

    def __init__(self, frame_rate: float = 50.0, k: int = DEFAULT_K, path: str | Path | None = None):
        from safetensors.numpy import load_file

        self.frame_rate = float(frame_rate)
        self.name = f"mfcc-kmeans@{frame_rate:g}hz:k{k}"
        self.codebook_sizes = (int(k),)
        p = Path(path) if path else asset_path(frame_rate, k)
        if not p.exists():
            raise SpeechtokError(
                f"{p}: no fitted centroids for {self.name}; fit them with "
                f"`python -m speechtok.tokenizers.mfcc_kmeans --data TRAIN.jsonl --rate {frame_rate:g} --k {k}`"
            )
        t = load_file(str(p))
        self.centroids, self.mean, self.std = t["centroids"], t["mean"], t["std"]

    def features(self, wav: np.ndarray) -> np.ndarray:
        """``(frames, 39)`` standardised features of one waveform."""
        return (pooled_features(wav, self.frame_rate) - self.mean) / self.std

    def _encode(self, wav):
        return nearest(self.features(wav), self.centroids)[None, :]

    def _decode(self, codes, num_samples, tokens):
        raise NotImplementedError(f"{self.name} is encode-only")


def fit(wavs, frame_rate: float, k: int = DEFAULT_K, out: str | Path | None = None, max_frames: int = 200_000, seed: int = 0) -> Path:
    """Fit centroids on waveforms (float32 16 kHz) and save them as safetensors; returns the path."""
    from safetensors.numpy import save_file

    feats = np.concatenate([pooled_features(w, frame_rate) for w in wavs])
    if len(feats) > max_frames:
        feats = feats[np.random.default_rng(seed).choice(len(feats), max_frames, replace=False)]
    mean, std = feats.mean(0), feats.std(0) + 1e-5
    c = kmeans((feats - mean) / std, k, iters=30, seed=seed)
    p = Path(out) if out else asset_path(frame_rate, k)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    save_file({"centroids": c, "mean": mean.astype(np.float32), "std": std.astype(np.float32)}, str(tmp),
              metadata={"frames": str(len(feats)), "frame_rate": f"{frame_rate:g}", "k": str(k)})
    tmp.chmod(0o644)
    tmp.replace(p)
    return p


# ---- registry family ----------------------------------------------------------------------
_NAME = re.compile(r"^mfcc-kmeans@(?P<rate>[0-9.]+)hz(?::k(?P<k>\d+))?$")


def names() -> list[str]:
    return [f"mfcc-kmeans@{r:g}hz:k{k}" for k in (DEFAULT_K, 100) for r in RATES if asset_path(r, k).exists()]


def resolve(name: str):
    m = _NAME.match(name)
    if not m:
        return None
    return MFCCKMeansTokenizer(float(m["rate"]), int(m["k"] or DEFAULT_K))


def describe(name: str) -> dict | None:
    """The name's facts without reading its centroids (``speechtok list`` answers at once)."""
    m = _NAME.match(name)
    if not m or not asset_path(float(m["rate"]), int(m["k"] or DEFAULT_K)).exists():
        return None
    return {"sample_rate": SAMPLE_RATE, "frame_rate": float(m["rate"]), "codebook_sizes": [int(m["k"] or DEFAULT_K)]}


def main(argv=None) -> int:
    from tqdm import tqdm

    from ..audio import load_audio
    from ..data.manifest import list_inputs
    from ..data.forced_align import english_with_text

    ap = argparse.ArgumentParser(description="Fit MFCC k-means centroids on English audio of a manifest.")
    ap.add_argument("--data", required=True, help="manifest (.jsonl); its English utterances are used")
    ap.add_argument("--rate", type=float, nargs="+", default=list(RATES))
    ap.add_argument("--k", type=int, default=DEFAULT_K)
    args = ap.parse_args(argv)
    utts = english_with_text(list_inputs(args.data))
    wavs = [load_audio(u.path, SAMPLE_RATE)[0] for u in tqdm(utts, desc="load", unit="utt")]
    print(f"{len(wavs)} utterances, {sum(map(len, wavs)) / SAMPLE_RATE / 60:.1f} min", file=sys.stderr)
    for rate in args.rate:
        print(fit(wavs, rate, args.k), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
