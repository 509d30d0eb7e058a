"""Narrowband speech stays narrowband: detect a band limit, quantize by the in-band error, mask the output.

Speech recorded at 8 kHz (telephone, GSM) and resampled to 16 kHz has no energy above about
4 kHz. A codec that knows only wideband speech fills that empty band with an invented one (its
codebooks have no "nothing up there" shape), which costs intelligibility and quality. Three
steps keep it out:

1. ``detect_band_limit``: the long-term spectrum of the speech frames; the band limit is the
   lowest frequency above which the spectrum stays 50 dB under its 300-3400 Hz level (None for
   wideband speech). Encoding records it in ``Tokens.extra["band_limit_hz"]``.
2. ``InBandMetric``: the envelope codebooks pick their codewords by the error *inside* the band
   (a weighted distance on the warped cepstrum and the aperiodicity bands), so no bits are spent
   on the empty band.
3. ``band_mask``: decoding multiplies every synthesis filter by a mask that rolls off to zero at
   the band limit, so the output has no energy above it either.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .analysis import band_edges
from .envelope import warp

REFERENCE_BAND = (300.0, 3400.0)  # the telephone band: every recording has speech there
DROP_DB = 50.0  # a band limit: the spectrum above it stays this far below the reference band
EDGE_DB = 20.0  # ...and its edge: where the spectrum falls this far under it for good (resamplers leak above)
MAX_LIMITED_HZ = 7000.0  # limits above this are treated as full band
ROLL_OFF_HZ = 250.0  # width of the decoder's raised-cosine roll-off below the band limit


def detect_band_limit(wav: np.ndarray, sample_rate: int, n_fft: int = 512) -> float | None:
    """The band limit (Hz, a multiple of ``sample_rate / n_fft``) of speech ``wav``, or None
    when it covers the full band (or is too short or too quiet to tell).

    Frames within 40 dB of the loudest frame are averaged (the long-term spectrum of the speech,
    not of the pauses). The speech is band-limited when, from some frequency above 2 kHz up to
    Nyquist, the smoothed spectrum stays ``DROP_DB`` under its median level of 300-3400 Hz; the
    limit is then the lowest frequency from which it stays ``EDGE_DB`` under that level."""
    x = np.asarray(wav, np.float64)
    hop = n_fft // 2
    if len(x) < 4 * n_fft:
        return None
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    energy = power.sum(1)
    if energy.max() <= 1e-12:
        return None
    active = energy >= energy.max() * 1e-4
    ltas = power[active].mean(0)
    freqs = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    k = 5  # smooth over about 150 Hz
    db = 10 * np.log10(np.convolve(ltas, np.ones(k) / k, mode="same") + 1e-20)
    ref = np.median(db[(freqs >= REFERENCE_BAND[0]) & (freqs <= REFERENCE_BAND[1])])
    top = len(freqs) - k // 2  # the smoothing window runs past Nyquist in the last bins
    # highest level from each bin to the top: the spectrum must stay low all the way up
    above = np.maximum.accumulate(db[:top][::-1])[::-1]
    low = np.nonzero((above < ref - DROP_DB) & (freqs[:top] >= 2000.0))[0]
    if not len(low):
        return None
    # the edge of the band: a resampler's transition band leaks 20-50 dB down for a few hundred Hz
    edge = np.nonzero((above < ref - EDGE_DB) & (freqs[:top] >= 2000.0))[0]
    limit = float(freqs[min(edge[0], low[0])])
    return limit if limit <= MAX_LIMITED_HZ else None


@lru_cache(maxsize=32)
def band_mask(limit_hz: float | None, sample_rate: int, n_bins: int) -> np.ndarray | None:
    """(n_bins,) gains: 1 up to ``limit - ROLL_OFF_HZ``, a raised cosine down to 0 at the limit;
    None for no limit."""
    if limit_hz is None:
        return None
    f = np.linspace(0, sample_rate / 2, n_bins)
    t = ((limit_hz - f) / ROLL_OFF_HZ).clip(0, 1)
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)


@lru_cache(maxsize=32)
def _in_band_weights(limit_hz: float, sample_rate: int, order: int, alpha: float, subframes: int,
                     bap_edges: tuple) -> np.ndarray:
    """(D, D) symmetric square root of the in-band metric of a feature vector
    ``[cep (subframes x order) ; bap (bands)]``; the identity when nothing is out of band."""
    # the cepstrum is a cosine series on a grid uniform in warped frequency: restrict its squared
    # error to the grid points whose real frequency is inside the band, normalised so that the
    # full band gives the identity (the cosine basis is orthogonal on the full grid)
    n = 512
    grid = np.linspace(0, np.pi, n)
    real = np.linspace(0, np.pi, 4 * n)
    # invert the warping numerically: the real frequency of each warped grid point
    f_of_grid = np.interp(grid, warp(real, alpha), real) * sample_rate / (2 * np.pi)
    inside = (f_of_grid < limit_hz).astype(np.float64)
    basis = np.cos(np.outer(grid, np.arange(order)))  # (n, order)
    full = (basis**2).sum(0)
    w = (basis * inside[:, None]).T @ basis / np.sqrt(np.outer(full, full))
    vals, vecs = np.linalg.eigh(w)
    cep_root = (vecs * np.sqrt(vals.clip(0, None))) @ vecs.T
    edges = np.asarray(bap_edges)
    frac = ((np.minimum(edges[1:], limit_hz) - edges[:-1]) / (edges[1:] - edges[:-1])).clip(0, 1)
    d = subframes * order + len(frac)
    root = np.zeros((d, d))
    for s in range(subframes):
        root[s * order : (s + 1) * order, s * order : (s + 1) * order] = cep_root
    root[subframes * order :, subframes * order :] = np.diag(np.sqrt(frac))
    return root.astype(np.float32)


def in_band_metric(limit_hz: float | None, sample_rate: int, order: int, alpha: float, subframes: int,
                   bands: int) -> torch.Tensor | None:
    """The (D, D) matrix ``L`` such that ``|(x - c) @ L|^2`` is the in-band squared error of a
    feature vector (None for full band: the plain Euclidean error)."""
    if limit_hz is None:
        return None
    edges = tuple(float(e) for e in band_edges(sample_rate, bands))
    return torch.from_numpy(_in_band_weights(float(limit_hz), sample_rate, order, alpha, subframes, edges))
