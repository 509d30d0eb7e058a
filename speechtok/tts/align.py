"""Durations learned inside training: monotonic alignment search (MAS, as in Glow-TTS/Grad-TTS).

Each phone ``i`` predicts a mean ``mu_i`` of the (normalized) frame features; MAS finds the
monotonic, surjective path that assigns every frame ``j`` to one phone, starting at the first
phone and ending at the last, maximizing ``sum_j log N(x_j; mu_a(j), I)``. The path's run lengths
are the phones' durations; they train the duration predictor, and the encoder is pulled towards
the frames it was aligned to (the "prior" loss). Needs no aligner model and no other language's
acoustic model, so it works for every language and for a user's own voice.
"""

from __future__ import annotations

import numpy as np
import torch

from ..nn import expand, frame_positions  # noqa: F401  (the length regulator; lived here once)


def log_likelihood(mu: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(N, D) phone means, (T, D) frames -> (N, T) Gaussian log-likelihood up to a constant."""
    return -0.5 * torch.cdist(mu.float(), x.float()).pow(2)


def mas(logp: np.ndarray) -> np.ndarray:
    """(N, T) scores with N <= T -> (T,) phone index of each frame along the best monotonic path
    that visits every phone (phone 0 at frame 0, phone N-1 at frame T-1, steps of 0 or 1)."""
    logp = np.asarray(logp, np.float64)
    N, T = logp.shape
    if N > T:
        raise ValueError(f"cannot align {N} phones to {T} frames: need at least one frame per phone")
    neg = -1e30
    q = np.full((N, T), neg)
    stay = np.zeros((N, T), bool)  # True: frame j stayed on phone i (came from (i, j-1))
    q[0, 0] = logp[0, 0]
    for j in range(1, T):
        lo, hi = max(0, N - (T - j)), min(N - 1, j)  # phones reachable at frame j that can still finish
        i = np.arange(lo, hi + 1)
        from_same = q[i, j - 1]
        from_prev = np.where(i > 0, q[np.maximum(i - 1, 0), j - 1], neg)
        s = from_same >= from_prev
        stay[i, j] = s
        q[i, j] = np.where(s, from_same, from_prev) + logp[i, j]
    path = np.empty(T, np.int64)
    i = N - 1
    for j in range(T - 1, -1, -1):
        path[j] = i
        if j > 0 and not stay[i, j]:
            i -= 1
    return path


def durations_from_path(path: np.ndarray, num_phones: int) -> np.ndarray:
    """(T,) phone index per frame -> (N,) frames per phone."""
    return np.bincount(path, minlength=num_phones).astype(np.int64)


#: what leaving its word's span costs a phone: far above any likelihood difference, yet finite, so
#: a path always exists (an alignment that cannot keep to the spans still aligns)
SPAN_PENALTY = 1e6


def constrain(logp: np.ndarray, spans: np.ndarray | None) -> np.ndarray:
    """``logp`` (N, T) with ``SPAN_PENALTY`` taken off each phone's frames outside its span
    (``spans`` (N, 2) first/last allowed frame, -1: anywhere)."""
    if spans is None:
        return logp
    n, t = logp.shape
    spans = np.asarray(spans)[:n]
    j = np.arange(t)[None]
    outside = (spans[:, :1] >= 0) & ((j < spans[:, :1]) | (j > spans[:, 1:]))
    return logp - SPAN_PENALTY * outside


def align_batch(mu: torch.Tensor, x: torch.Tensor, n_phones: torch.Tensor, n_frames: torch.Tensor,
                spans: list | None = None) -> torch.Tensor:
    """Padded (B, N, D) means and (B, T, D) frames -> (B, N) integer durations (0 on padding).
    ``spans``: per utterance None or (N, 2) frame bounds per phone (forced alignment of words)."""
    B, N = mu.shape[:2]
    out = torch.zeros(B, N, dtype=torch.long)
    with torch.no_grad():
        for b in range(B):
            n, t = int(n_phones[b]), int(n_frames[b])
            lp = log_likelihood(mu[b, :n], x[b, :t]).numpy()
            lp = constrain(lp, spans[b] if spans is not None else None)
            out[b, :n] = torch.from_numpy(durations_from_path(mas(lp), n))
    return out
