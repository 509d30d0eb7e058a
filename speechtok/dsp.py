"""Signal-processing helpers shared by every layer above: STFT magnitudes, mel filterbanks,
k-means and nearest-centroid search, and the Levenshtein distance of two integer sequences (unit
edit distance in the measures, phone error rate in the phone recognizer below them).

Numpy only at import time (torch is imported by the functions that take tensors), so a
tokenizer family that needs one mel filterbank does not pull in a model or a trainer.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Slaney-style mel filterbank ``(n_mels, n_fft // 2 + 1)``, area-normalised triangles (equal
    to librosa.filters.mel's default): the codec's mel losses and the log-mel metrics."""
    fmax = fmax or sample_rate / 2

    def hz_to_mel(f):
        f = np.asarray(f, dtype=np.float64)
        lin = f / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        m = np.asarray(m, dtype=np.float64)
        lin = m * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower = (freqs[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    upper = (edges[2:, None] - freqs[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    fb = np.maximum(0.0, np.minimum(lower, upper))
    fb *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return fb.astype(np.float32)


def stft_magnitude(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``(samples,)`` -> magnitudes ``(n_fft // 2 + 1, frames)``; centred frames, reflect padding."""
    x = np.asarray(x, dtype=np.float64)
    pad = n_fft // 2
    mode = "reflect" if len(x) > pad else "constant"
    x = np.pad(x, (pad, pad), mode=mode)
    n_frames = 1 + max(0, (len(x) - n_fft) // hop)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[idx] * np.hanning(n_fft + 1)[:-1]  # periodic Hann
    return np.abs(np.fft.rfft(frames, axis=1)).T


@lru_cache(maxsize=4)
def htk_mel_filterbank(n_mels: int, n_fft: int, fmin: float = 20.0, sample_rate: int = 16000) -> np.ndarray:
    """Triangular filters ``(n_mels, n_fft//2+1)`` of peak 1 on the HTK mel scale, fmin .. Nyquist:
    the MFCC tokenizer's features and the phone recognizer's log-mel input."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = imel(np.linspace(mel(fmin), mel(sample_rate / 2), n_mels + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid))).astype(np.float32)


def nearest(x, centroids, chunk: int = 65536, c2=None):
    """Index of the nearest centroid (squared Euclidean) of each row: ``(n, d)``, ``(k, d)`` ->
    ``(n,)``. Numpy arrays give int64 numpy, tensors give a long tensor; rows go ``chunk`` at a
    time so that the ``(n, k)`` distances stay small. ``c2``: ``(centroids**2).sum(1)[None, :]``
    when the caller keeps it (``centroid_norms``); the same values either way.

    Ties go to the lowest index. The row minimum of a CPU tensor is found by numpy's argmin
    (same first-index rule, several times faster than torch's on these rows)."""
    if c2 is None:
        c2 = centroid_norms(centroids)
    if isinstance(x, np.ndarray):
        parts = [_argmin_rows(c2 - 2 * x[s : s + chunk] @ centroids.T) for s in range(0, len(x), chunk)]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    import torch

    # addmm: c2 - 2 x C^T in one pass; the same values (2 x C^T is exact scaling of x C^T)
    parts = [_argmin_rows(torch.addmm(c2, x[s : s + chunk], centroids.T, alpha=-2)) for s in range(0, len(x), chunk)]

    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)


def centroid_norms(centroids):
    """``(k, d)`` -> ``(1, k)`` squared norms, as ``nearest`` uses them."""
    return (centroids**2).sum(1)[None, :]


def _argmin_rows(d):
    if isinstance(d, np.ndarray):
        return d.argmin(1)
    import torch

    if d.device.type == "cpu" and not d.requires_grad and d.dtype in (torch.float32, torch.float64):
        return torch.from_numpy(d.numpy().argmin(1))
    return d.argmin(1)


def kmeans(x, k: int, iters: int = 20, seed: int = 0):
    """Lloyd k-means ``(n, d)`` -> centroids ``(k, d)`` (a tensor; a numpy array gives numpy
    float32): k-means++-style D² seeding on a subsample, empty clusters re-seeded from the points
    farthest from their centroid. Deterministic for a given ``seed``."""
    import torch

    if isinstance(x, np.ndarray):
        return kmeans(torch.from_numpy(np.ascontiguousarray(x, np.float32)), k, iters, seed).numpy()
    g = torch.Generator().manual_seed(seed)
    n = len(x)
    if n < k:
        raise ValueError(f"k-means needs at least {k} vectors, got {n}: give it more training audio")
    # seeding: D^2 sampling on a subsample (cheap and far better than uniform picks)
    sub = x[torch.randperm(n, generator=g)[: min(n, 20 * k)]]
    # the picks are kept as Python ints, not as small tensors: a small tensor kept alive inside
    # the hole each freed (sub - pick) temporary leaves splits it, so that with large subsamples
    # (tens of MB) glibc's heap grew by that much per pick (a 197-dim run took 23 GB)
    picks = [int(torch.randint(len(sub), (1,), generator=g))]
    d2 = ((sub - sub[picks[0]]) ** 2).sum(1)
    for _ in range(1, k):
        i = int(torch.multinomial(d2 + 1e-12, 1, generator=g))
        picks.append(i)
        d2 = torch.minimum(d2, ((sub - sub[i]) ** 2).sum(1))
    c = sub[torch.tensor(picks)]
    for _ in range(iters):
        a = nearest(x, c)
        sums = torch.zeros_like(c).index_add_(0, a, x)
        counts = torch.bincount(a, minlength=k).to(x.dtype)
        empty = counts == 0
        c = torch.where(empty[:, None], c, sums / counts.clamp(min=1)[:, None])
        if empty.any():
            err = ((x - c[a]) ** 2).sum(1)
            far = err.topk(int(empty.sum())).indices
            c[empty] = x[far]
    return c


def edit_distance(a, b) -> int:
    """Levenshtein distance between two int sequences; O(len(a)·len(b)) in numpy rows."""
    a, b = np.asarray(a).ravel(), np.asarray(b).ravel()
    if a.size == 0 or b.size == 0:
        return int(max(a.size, b.size))
    idx = np.arange(b.size + 1)
    row = idx.astype(np.int64)
    for i in range(1, a.size + 1):
        sub = row[:-1] + (b != a[i - 1])
        t = np.empty_like(row)
        t[0] = i
        t[1:] = np.minimum(row[1:] + 1, sub)
        # insertions chain along the row: new[j] = min_k<=j t[k] + (j - k)
        row = np.minimum.accumulate(t - idx) + idx
    return int(row[-1])
