"""Speech -> source-filter parameters at the token frame rate (no training).

F0 and voicing: WORLD's DIO + StoneMask (pyworld) on a 5 ms grid with a wide ``allowed_range``.
Why DIO and not Harvest: Harvest is the better tracker (it is our reference) but runs at about
8x real time on one core, DIO at about 140x. DIO's default voicing (allowed_range 0.1) drops
about 30% of the frames Harvest calls voiced; 0.4 drops about 6% (measured by
``benchmarks/sourcefilter/tracker.py``), and a frame called voiced by mistake costs little here
because the aperiodicity of that frame then sends its energy through the noise path.

Envelope: CheapTrick, sampled at ``envelope_subframes`` points per token frame, as a
frequency-warped cepstrum. Aperiodicity: D4C at the frame centre, averaged in dB over a few
bands.

Frame ``i`` covers samples ``[i * hop, (i + 1) * hop)``; every parameter of that frame is measured
inside it, so the frame grid is the same for every design and rate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .envelope import to_cepstrum

FFT_SIZE = 1024  # CheapTrick/D4C and the synthesizer share this spectrum size at 16 kHz
N_BINS = FFT_SIZE // 2 + 1
_F0_STEP = 80  # method stft: F0 grid (5 ms at 16 kHz; frame and subframe centres lie on it)


@lru_cache(maxsize=1)
def _pyworld():
    """pyworld, imported on first use: only the WORLD analysis needs it (models with the fast
    ``stft`` analysis load and run without it)."""
    with warnings.catch_warnings():  # pyworld imports pkg_resources, deprecated by setuptools
        warnings.simplefilter("ignore")
        import pyworld
    return pyworld


@dataclass
class Frames:
    """Parameters of ``T`` token frames.

    f0: (T,) Hz, 0 = unvoiced; cep: (T, subframes, order) warped cepstrum of the log amplitude
    envelope; bap: (T, bands) band aperiodicity in dB (<= 0).
    """

    f0: np.ndarray
    cep: np.ndarray
    bap: np.ndarray

    def __len__(self) -> int:
        return len(self.f0)


def band_edges(sample_rate: int, bands: int) -> np.ndarray:
    """Band edges in Hz, equally spaced on the mel scale."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    imel = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    return imel(np.linspace(0, mel(sample_rate / 2), bands + 1))


def band_matrix(sample_rate: int, bands: int) -> np.ndarray:
    """(bins, bands) averaging matrix over each band's rfft bins."""
    f = np.linspace(0, sample_rate / 2, N_BINS)
    edges = band_edges(sample_rate, bands)
    m = np.zeros((N_BINS, bands), np.float32)
    for b in range(bands):
        sel = (f >= edges[b]) & ((f < edges[b + 1]) | (b == bands - 1))
        m[sel, b] = 1.0 / max(sel.sum(), 1)
    return m


@lru_cache(maxsize=16)
def _band_interp(sample_rate: int, bands: int, n_bins: int) -> np.ndarray:
    """(bands, n_bins): piecewise-linear interpolation between band centres, as a matrix, scaled
    from dB to natural-log amplitude."""
    edges = band_edges(sample_rate, bands)
    centres = (edges[:-1] + edges[1:]) / 2
    f = np.linspace(0, sample_rate / 2, n_bins)
    idx = np.searchsorted(centres, f).clip(1, len(centres) - 1)
    w = ((f - centres[idx - 1]) / (centres[idx] - centres[idx - 1])).clip(0, 1)
    m = np.zeros((len(centres), n_bins), np.float32)
    m[idx - 1, np.arange(n_bins)] += 1 - w
    m[idx, np.arange(n_bins)] += w
    return m * np.float32(np.log(10) / 20)


def bands_to_bins(bap_db: np.ndarray, sample_rate: int, n_bins: int = N_BINS) -> np.ndarray:
    """(..., bands) dB -> (..., n_bins) linear aperiodicity, interpolated between band centres."""
    import torch  # torch's small float32 matmul + exp: about 20x faster than numpy's here

    m = torch.from_numpy(_band_interp(sample_rate, bap_db.shape[-1], n_bins))
    return torch.exp(torch.from_numpy(np.ascontiguousarray(bap_db, np.float32)) @ m).numpy()


def track_f0(wav64: np.ndarray, sample_rate: int, f0_min: float, f0_max: float, allowed_range: float):
    """(samples,) float64 -> (f0 on a 5 ms grid, its times in s)."""
    pyworld = _pyworld()
    f0, t = pyworld.dio(
        wav64, sample_rate, f0_floor=f0_min, f0_ceil=f0_max, frame_period=5.0, allowed_range=allowed_range
    )
    return pyworld.stonemask(wav64, f0, t, sample_rate), t


def f0_at(f0: np.ndarray, t: np.ndarray, times: np.ndarray) -> np.ndarray:
    """F0 at arbitrary times: log-linear inside voiced runs, 0 where the nearest grid point is unvoiced."""
    v = f0 > 0
    if not v.any():
        return np.zeros(len(times))
    lf = np.interp(t, t[v], np.log(f0[v]))
    near = np.clip(np.round(np.interp(times, t, np.arange(len(t)))).astype(int), 0, len(t) - 1)
    return np.where(v[near], np.exp(np.interp(times, t, lf)), 0.0)


def analyze(wav: np.ndarray, sample_rate: int, hop: int, a) -> Frames:
    """(samples,) float -> Frames for ``ceil(samples / hop)`` token frames; ``a`` is an
    ``AnalysisConfig`` (its ``method`` picks WORLD or the batched-FFT analysis of ``fast.py``)."""
    T = max(1, -(-len(wav) // hop))
    x = np.zeros(T * hop, np.float64)
    x[: len(wav)] = np.asarray(wav, np.float64)[: T * hop]
    if a.method == "stft":
        return analyze_batch(x[None], sample_rate, hop, a)[0]
    S = a.envelope_subframes
    centres = (np.arange(T) * hop + hop / 2) / sample_rate  # frame pitch and aperiodicity: at the centre
    sub = (np.arange(T * S) * (hop / S) + hop / S / 2) / sample_rate  # envelope: at subframe centres
    f0_grid, t_grid = track_f0(x, sample_rate, a.f0_min, a.f0_max, a.allowed_range)
    f0, f0_sub = f0_at(f0_grid, t_grid, centres), f0_at(f0_grid, t_grid, sub)
    pyworld = _pyworld()
    sp = pyworld.cheaptrick(x, f0_sub, sub, sample_rate, fft_size=FFT_SIZE, f0_floor=a.f0_min)
    cep = to_cepstrum(0.5 * np.log(sp + 1e-12), a.cep_order, a.alpha).reshape(T, S, a.cep_order)
    ap = pyworld.d4c(x, f0, centres, sample_rate, fft_size=FFT_SIZE)
    bap = 20 * np.log10(np.clip(ap, 1e-3, 1.0)) @ band_matrix(sample_rate, a.ap_bands)
    return Frames(f0=f0.astype(np.float32), cep=cep.astype(np.float32), bap=bap.astype(np.float32))


def analyze_batch(x: np.ndarray, sample_rate: int, hop: int, a, frames: tuple[int, int] | None = None,
                  open_edges: bool = False, max_half: int | None = None) -> list[Frames]:
    """Method ``stft``: (B, T * hop) equally long segments -> one Frames per segment, all through
    the same FFT calls. ``frames`` = (first, count): only those frames of each segment (the
    others are context); ``open_edges``: the segment is a window into a longer signal
    (``fast.yin`` says what that changes); ``max_half``: the longest envelope half window
    (``fast.envelope``). The last two make the low-latency mode."""
    import torch

    from . import fast

    B, n = x.shape
    T, S = n // hop, a.envelope_subframes
    first, T = (0, T) if frames is None else frames
    centres = (first + np.arange(T)) * hop + hop // 2
    sub = first * hop + (np.arange(T * S) * (hop // S) + hop // S // 2)
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    f0_grid, period, t_grid = fast.yin(xt, sample_rate, _F0_STEP, a.f0_min, a.f0_max, a.yin_threshold,
                                       a.voicing_threshold, a.min_voiced_ms, open_edges)
    f0 = np.stack([f0_at(g, t_grid, centres / sample_rate) for g in f0_grid])
    f0_sub = np.stack([f0_at(g, t_grid, sub / sample_rate) for g in f0_grid])
    cep = fast.envelope(xt, sample_rate, sub, f0_sub, a.unvoiced_f0, a.f0_min, a.cep_order, a.alpha,
                        f0_max=sample_rate / (max(2, int(np.floor(sample_rate / a.f0_max))) - 0.5),
                        max_half=max_half).reshape(B, T, S, a.cep_order)
    # band aperiodicity: the voiced profile, scaled by the frame's periodicity (fast.py says why)
    p = np.stack([np.interp(centres / sample_rate, t_grid, g) for g in period])
    bap = np.where(f0[..., None] > 0, np.asarray(a.voiced_bap_db, np.float32) * p[..., None], 0.0)
    return [Frames(f0=f0[b].astype(np.float32), cep=cep[b].astype(np.float32), bap=bap[b].astype(np.float32))
            for b in range(B)]
