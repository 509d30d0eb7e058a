"""Spectral envelope <-> a short frequency-warped cepstrum, as two fixed matrices.

A log-amplitude envelope on the rfft bins is resampled onto a grid that is uniform in the
all-pass-warped frequency (alpha 0.42 approximates the mel scale at 16 kHz) and reduced to its
first ``order`` cosine coefficients; decoding is one matrix product. No per-frame loops, so a
whole utterance converts in one ``@``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def warp(omega: np.ndarray, alpha: float) -> np.ndarray:
    """All-pass frequency warping of ``omega`` (radians, 0..pi)."""
    return omega + 2 * np.arctan(alpha * np.sin(omega) / (1 - alpha * np.cos(omega)))


@lru_cache(maxsize=16)
def matrices(n_bins: int, order: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(analysis (n_bins, order), synthesis (order, n_bins)) for log-amplitude rows."""
    omega = np.linspace(0, np.pi, n_bins)
    warped = warp(omega, alpha)  # 0..pi, monotonic
    grid = np.linspace(0, np.pi, 2 * n_bins)  # uniform in warped frequency
    # linear interpolation bins -> warped grid, as a matrix
    idx = np.searchsorted(warped, grid, side="right").clip(1, n_bins - 1)
    w = ((grid - warped[idx - 1]) / (warped[idx] - warped[idx - 1])).clip(0, 1)
    interp = np.zeros((n_bins, len(grid)))
    interp[idx - 1, np.arange(len(grid))] += 1 - w
    interp[idx, np.arange(len(grid))] += w
    m = np.arange(order)
    # DCT on the warped grid (cepstral coefficients, c0 = mean log amplitude)
    dct = np.cos(np.outer(grid, m)) * (2.0 / len(grid))
    dct[:, 0] *= 0.5
    analysis = interp @ dct
    synthesis = np.cos(np.outer(m, warped))
    return analysis.astype(np.float32), synthesis.astype(np.float32)


def to_cepstrum(log_amp: np.ndarray, order: int, alpha: float) -> np.ndarray:
    """(frames, bins) natural-log amplitude -> (frames, order) warped cepstrum."""
    a, _ = matrices(log_amp.shape[-1], order, alpha)
    return log_amp.astype(np.float32) @ a


def from_cepstrum(cep: np.ndarray, n_bins: int, alpha: float) -> np.ndarray:
    """(frames, order) -> (frames, n_bins) natural-log amplitude."""
    _, s = matrices(n_bins, cep.shape[-1], alpha)
    return cep.astype(np.float32) @ s
