"""Source-filter analysis from batched FFTs: the fast default (``analysis.method: stft``).

The WORLD analysis (``analysis.py``, ``method: world``) holds the encoder to about 60x real time
(benchmarks/sourcefilter/README.md, speed): DIO,
StoneMask, CheapTrick and D4C each loop over frames in C. This module computes the same three
parameters with a handful of batched float32 FFTs over all frames of a segment at once:

* **F0 and voicing**: YIN (de Cheveigne & Kawahara 2002) on a 5 ms grid. The difference function
  comes from one FFT cross-correlation per frame; the pitch period is the first dip of the
  cumulative-mean-normalised difference (CMND) below ``yin_threshold`` (the global minimum if
  none), refined by a parabola. Voicing has hysteresis: a frame whose dip is below
  ``2 * yin_threshold`` is surely voiced; a frame whose best dip near the pitch of the sure frames
  around it (+-20 %) is below ``voicing_threshold`` is voiced when its run of such frames holds a
  sure one. Voiced runs shorter than ``min_voiced_ms`` are dropped and single-frame octave jumps
  are smoothed by a 3-point median of log-F0. ``1 - CMND`` at the period is the frame's
  periodicity.
* **Envelope**: the steps of CheapTrick (Morise 2015) vectorised over frames: a Hann window three
  pitch periods long (``unvoiced_f0`` sets it where there is no pitch), power spectrum,
  rectangular smoothing over 2/3 F0 in frequency (the spectrum mirrored at 0 and Nyquist, so the
  edges are smoothed with their real neighbours), and cepstral liftering that removes the
  harmonic ripple (a sinc lifter at the F0 quefrency) and restores the smoothed peaks (a
  cosine compensation lifter). The liftered cepstrum goes straight into the warped-cepstrum
  matrix, so no FFT back to the spectrum is needed.
* **Band aperiodicity** (in ``analysis.py``): a fixed voiced profile (D4C's mean over the voiced
  frames of the training split, ``analysis.voiced_bap_db``) scaled by the frame's periodicity.
  A per-band estimate (each band's normalised autocorrelation at the period, window-corrected as
  in Boersma 1993) was built and tried first; it decoded worse on the validation split (that
  variant is not kept, so its figures are not quoted), because pitch drift inside the 3-period
  window reads as aperiodicity in every band above the first. D4C's own output varies little
  around its voiced mean (the spread per band is in benchmarks/sourcefilter/voiced_profile.json).

Every function takes a batch of equally long segments ``(B, L)`` and frame positions shared by
all of them, so all segments of a file go through the same few FFT calls; the cost is a few
milliseconds per second of audio. Everything is a function of the samples of the segment (no
global level), so streaming equals whole-file analysis.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from .envelope import matrices

FFT = 1024  # envelope spectrum size (the warped-cepstrum matrices are made for its bins)
_Q1 = -0.15  # CheapTrick's compensation-lifter constant


def _fast_len(n: int) -> int:
    """The smallest 2^a * (1, 3, 5 or 9) >= n, a >= 4: sizes torch's FFT handles fast (a quick
    timing here put 576 points well ahead of 540 = 2^2 3^3 5; not kept as a benchmark)."""
    best = 1 << max(4, (n - 1).bit_length())
    for odd in (3, 5, 9):
        m = odd * 16
        while m < n:
            m *= 2
        best = min(best, m)
    return best


def _frames(x: torch.Tensor, centres: np.ndarray, half: int) -> torch.Tensor:
    """(B, samples) -> (B, len(centres), 2*half+1) windows of samples around each centre (zeros
    outside). Evenly spaced centres give a strided view (no copy)."""
    centres = np.asarray(centres, np.int64)
    step = int(centres[1] - centres[0]) if len(centres) > 1 else 1
    if step > 0 and (np.diff(centres) == step).all():
        lo = int(centres[0])  # first window starts at centres[0] - half
        need = lo + (len(centres) - 1) * step + 2 * half + 1
        xp = torch.nn.functional.pad(x, (half, max(0, need - x.shape[1] - half)))
        return xp[:, lo:].unfold(1, 2 * half + 1, step)[:, : len(centres)]
    xp = torch.nn.functional.pad(x, (half, half + 1))
    idx = torch.from_numpy(centres)[:, None] + torch.arange(2 * half + 1)[None, :]
    return xp[:, idx]


def yin(x: torch.Tensor, sample_rate: int, step: int, f0_min: float, f0_max: float,
        yin_threshold: float, voicing_threshold: float, min_voiced_ms: float,
        open_edges: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, samples) float32 -> on a grid of ``step`` samples from 0: (F0 (B, G) in Hz, 0 = unvoiced;
    periodicity (B, G) in [0, 1]; grid times (G,) in s).

    ``open_edges`` (the low-latency mode): the segment is a window into a longer signal. Grid
    points whose YIN window reaches past either end are unknown (never voiced), and a voiced run
    cut by that edge is kept whatever its length (``min_voiced_ms`` judges only runs seen whole),
    so a frame's voicing needs no audio beyond ``yin_reach`` samples after its last grid point."""
    B, n = x.shape
    grid = np.arange(n // step + 1) * step
    tau_max = int(np.ceil(sample_rate / f0_min)) + 1
    tau_min = max(2, int(np.floor(sample_rate / f0_max)))
    W = tau_max  # integration window: one longest period
    L = W + tau_max  # the window and its lagged copies: samples [c - half, c - half + L)
    N = _fast_len(L)  # no wrap-around for lags <= tau_max
    half = L // 2 + 1
    G = len(grid)
    frames = _frames(x, grid, half)  # (B, G, 2 * half + 1)
    # the two transforms' inputs zero-padded to N, written straight into their buffers (what
    # rfft(seg, N) would pad to, without the intermediate copies)
    lagged = x.new_empty(B * G, N)
    lagged.view(B, G, N)[:, :, :L].copy_(frames[:, :, :L])
    lagged[:, L:].zero_()
    head = x.new_empty(B * G, N)
    head[:, :W].copy_(lagged[:, :W])
    head[:, W:].zero_()
    # conj(rfft(head)) * rfft(lagged): the conjugate made by negating the imaginary parts in place
    # (exact; torch's lazy conj costs a copy), then the same complex product
    prod = torch.fft.rfft(head)
    torch.view_as_real(prod)[..., 1].neg_()
    r = torch.fft.irfft(prod.mul_(torch.fft.rfft(lagged)), N)[:, : tau_max + 1]
    # energy of the window shifted by each lag: sliding sums of W squared samples (one cumulative
    # sum per segment), read as a strided view at every frame's lags (frame g's window starts at
    # grid[g] in the padded signal)
    xp = torch.nn.functional.pad(x, (half, half + L))
    cs = torch.nn.functional.pad(torch.cumsum((xp * xp).double(), 1), (1, 0))
    slide = (cs[:, W:] - cs[:, :-W]).float()  # slide[p] = sum of xp[p : p + W]^2
    e_lag = slide.unfold(1, tau_max + 1, step)[:, :G]  # (B, G, tau_max + 1)
    # d = e(0) + e(lag) - 2 r(lag), clamped at 0; the CMND of lags tau_min .. tau_max - 1 (the
    # only ones read), in place where the values are the same
    d = torch.add(e_lag, e_lag[:, :, :1]).view(B * G, tau_max + 1).sub_(r, alpha=2).clamp_(min=0)
    lags = torch.arange(tau_min, tau_max, dtype=torch.float32)
    den = torch.cumsum(d[:, 1:tau_max], 1)[:, tau_min - 1 :].clamp_(min=1e-12)
    c = (d[:, tau_min:tau_max] * lags).div_(den).numpy()
    # loudness from the difference function, not the raw energy: a DC offset (cheap recording
    # chains) is blind to it, so silence with an offset stays unvoiced
    loud = (d[:, tau_min:].mean(1) / (2 * W)).numpy() > 1e-8
    min_run = max(1, int(round(min_voiced_ms * sample_rate / 1000 / step)))
    span = None
    if open_edges:  # grid points whose window lies inside the segment: [g0, g1)
        g0 = -(-half // step)
        g1 = max(g0, (n - (L - half)) // step + 1)
        span = (g0, min(g1, len(grid)))
        known = np.zeros(len(grid), bool)
        known[span[0] : span[1]] = True
        loud = loud & np.tile(known, B)
    f0, period = _pick(c, loud, B, tau_min, sample_rate, yin_threshold, voicing_threshold, min_run, span)
    return f0, period, grid / sample_rate


def yin_reach(sample_rate: int, f0_min: float) -> int:
    """Samples after a grid point that its YIN window reads (the encoder's look-ahead for F0)."""
    tau_max = int(np.ceil(sample_rate / f0_min)) + 1
    L = 2 * tau_max
    return L - (L // 2 + 1)


def envelope_half(sample_rate: int, f0_min: float, unvoiced_f0: float) -> int:
    """Half width (samples) of the longest envelope window (three periods at 0.9 ``f0_min``)."""
    return int(np.ceil(1.5 * sample_rate / (0.9 * min(f0_min, unvoiced_f0))))


def _pick(c: np.ndarray, loud: np.ndarray, B: int, tau_min: int, sample_rate: int, yin_threshold: float,
          voicing_threshold: float, min_run: int, span: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CMND (B * G, lags from tau_min) of B segments -> (F0, periodicity), each (B, G)."""
    n, m = c.shape
    G = n // B
    rows = np.arange(n)
    # first dip below the threshold, then down to its local minimum (else the global minimum)
    below = c < yin_threshold
    has = below.any(1)
    first = below.argmax(1)
    if not has.all():
        first[~has] = c[~has].argmin(1)
    tau_i = first.copy()
    tau_i[has] = _first_rise(c, np.nonzero(has)[0], first[has])
    sure = (c[rows, tau_i] < 2 * yin_threshold) & loud
    # other frames: the best dip within +-20 % of the period of the sure frames around them
    # (interpolated inside each segment)
    expect = np.full(n, np.nan)
    for b in range(B):
        ks = np.nonzero(sure[b * G : (b + 1) * G])[0]
        if len(ks):
            expect[b * G : (b + 1) * G] = np.exp(np.interp(np.arange(G), ks, np.log(tau_i[b * G + ks] + tau_min)))
    # (only frames that are not sure and have an expected period: the others keep their dip)
    ask = np.nonzero(~sure & ~np.isnan(expect))[0]
    if len(ask):
        lag = np.arange(m)[None, :] + tau_min
        e = expect[ask, None]
        near = (lag > 0.8 * e) & (lag < 1.2 * e)
        any_near = near.any(1)
        tau_i[ask[any_near]] = np.where(near[any_near], c[ask[any_near]], np.inf).argmin(1)
    best = c[rows, tau_i]
    cand = (sure | (loud & (best < voicing_threshold) & ~np.isnan(expect))).reshape(B, G)
    sure = sure.reshape(B, G)
    voiced = np.zeros((B, G), bool)
    for b in range(B):  # a run of candidates is voiced when it holds a sure frame
        edges = np.diff(np.concatenate([[0], cand[b].astype(np.int8), [0]]))
        for s0, e0 in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
            if sure[b, s0:e0].any():
                voiced[b, s0:e0] = True
    # parabolic refinement of the period
    lo, hi = c[rows, np.clip(tau_i - 1, 0, m - 1)], c[rows, np.clip(tau_i + 1, 0, m - 1)]
    den = lo - 2 * best + hi
    ok = (den > 1e-9) & (tau_i > 0) & (tau_i < m - 1)
    shift = np.where(ok, 0.5 * (lo - hi) / np.maximum(den, 1e-9), 0.0)
    f0 = np.where(voiced.reshape(-1), sample_rate / (tau_i + tau_min + np.clip(shift, -0.5, 0.5)), 0.0).reshape(B, G)
    return np.stack([_clean(f, min_run, span) for f in f0]), np.clip(1 - best, 0, 1).reshape(B, G)


def _first_rise(c: np.ndarray, rows: np.ndarray, start: np.ndarray, window: int = 16) -> np.ndarray:
    """For each row of ``c`` in ``rows``: the first lag ``k >= start`` where the CMND rises
    (``c[k + 1] > c[k]``, or ``k`` is the last lag), i.e. the bottom of the dip that begins at
    ``start``. Looks ``window`` lags ahead first and searches the whole row only for the rows
    whose dip is longer."""
    m = c.shape[1]
    if not len(rows):
        return start
    k = start[:, None] + np.arange(window)[None, :]
    here, after = c[rows[:, None], np.minimum(k, m - 1)], c[rows[:, None], np.minimum(k + 1, m - 1)]
    rises = (after > here) | (k >= m - 1)
    found = rises.any(1)
    out = start + rises.argmax(1)
    if not found.all():
        r = rows[~found]
        full = np.concatenate([c[r, 1:] > c[r, :-1], np.ones((len(r), 1), bool)], 1)
        out[~found] = (full & (np.arange(m)[None, :] >= start[~found][:, None])).argmax(1)
    return out


def _clean(f0: np.ndarray, min_run: int, span: tuple[int, int] | None = None) -> np.ndarray:
    """Drop voiced runs shorter than ``min_run`` points (with ``span``, the known grid points
    [g0, g1): not a run that touches its edge, whose length is unknown); 3-point median of log-F0
    inside runs."""
    v = f0 > 0
    if not v.any():
        return f0
    edges = np.diff(np.concatenate([[0], v.astype(np.int8), [0]]))
    out = f0.copy()
    for s, e in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
        if e - s < min_run and not (span is not None and (s <= span[0] or e >= span[1])):
            out[s:e] = 0
    v = out > 0
    lf = np.log(np.where(v, out, 1.0))
    prev = np.concatenate([lf[:1], lf[:-1]])
    nxt = np.concatenate([lf[1:], lf[-1:]])
    both = v & np.concatenate([v[:1], v[:-1]]) & np.concatenate([v[1:], v[-1:]])
    med = np.median(np.stack([prev, lf, nxt]), 0)
    return np.where(both, np.exp(med), out)


@lru_cache(maxsize=8)
def _cep_to_warped(order: int, alpha: float) -> torch.Tensor:
    """(FFT//2+1, order): the real cepstrum's first half (c0, c1..c_{N/2}) -> warped cepstrum of the
    log spectrum that cepstrum describes (log spectrum = sum_q w_q c_q cos(2 pi k q / N))."""
    nb = FFT // 2 + 1
    q = np.arange(nb)
    w = np.where((q == 0) | (q == FFT // 2), 1.0, 2.0)
    cos = np.cos(2 * np.pi * np.outer(q, np.arange(nb)) / FFT) * w[:, None]  # (q, bins)
    analysis, _ = matrices(nb, order, alpha)
    return torch.from_numpy((cos @ analysis.astype(np.float64)).astype(np.float32))


@lru_cache(maxsize=8)
def _windows(half: int) -> torch.Tensor:
    """(half + 1, 2 * half + 1): row h is the unit-energy Hann window of half length h, centred."""
    t = np.arange(-half, half + 1)[None, :]
    h = np.arange(half + 1)[:, None]
    w = np.where(np.abs(t) <= h, 0.5 + 0.5 * np.cos(np.pi * t / (h + 1)), 0.0)
    return torch.from_numpy((w / np.sqrt((w**2).sum(1, keepdims=True))).astype(np.float32))


# F0-indexed tables: F0 on a log grid from _F_LO, _LIFTER_STEPS rows per decade (0.2 % apart);
# each table is built only for the rows between the lowest and highest F0 a config can produce
_LIFTER_STEPS, _F_LO = 1200, 20.0
_BOX_EVERY = 4  # the smoothing table keeps every 4th F0 of the lifter's (0.8 % apart)


def _rows(f_lo: float, f_hi: float, steps: float) -> tuple[int, int]:
    return int(np.floor(np.log10(f_lo / _F_LO) * steps)), int(np.ceil(np.log10(f_hi / _F_LO) * steps))


@lru_cache(maxsize=8)
def _lifter_table(sample_rate: int, i0: int, i1: int) -> torch.Tensor:
    """(rows i0..i1, FFT//2+1): CheapTrick's smoothing x compensation lifter for those F0s."""
    f0 = _F_LO * 10 ** (np.arange(i0, i1 + 1) / _LIFTER_STEPS)
    qf = np.arange(FFT // 2 + 1)[None, :] * f0[:, None] / sample_rate  # quefrency x F0
    with np.errstate(divide="ignore", invalid="ignore"):
        sm = np.where(qf > 0, np.sin(np.pi * qf) / (np.pi * qf), 1.0)
    comp = (1 - 2 * _Q1) + 2 * _Q1 * np.cos(2 * np.pi * qf)
    return torch.from_numpy((sm * comp).astype(np.float32))


@lru_cache(maxsize=8)
def _box_table(sample_rate: int, i0: int, i1: int) -> torch.Tensor:
    """(rows i0..i1, FFT): the lag-domain weights of a rectangular smoothing 2/3 F0 wide, on the
    lifter's grid thinned by ``_BOX_EVERY``."""
    f0 = _F_LO * 10 ** (np.arange(i0, i1 + 1) * _BOX_EVERY / _LIFTER_STEPS)
    lag = np.minimum(np.arange(FFT), FFT - np.arange(FFT))  # circular lag
    return torch.from_numpy(np.sinc(np.outer(2.0 / 3.0 * f0 / sample_rate, lag)).astype(np.float32))


def _lookup(table_fn, f0: torch.Tensor, sample_rate: int, f_lo: float, f_hi: float, steps: float) -> torch.Tensor:
    """Rows of an F0-indexed table for (frames,) F0 in Hz (rounded to the grid, clamped to the range)."""
    i0, i1 = _rows(f_lo, f_hi, steps)
    idx = torch.round(torch.log10(f0.clamp(f_lo, f_hi) / _F_LO) * steps).long() - i0
    return torch.index_select(table_fn(sample_rate, i0, i1), 0, idx.clamp(0, i1 - i0))


@lru_cache(maxsize=8)
def _window_sums(half: int) -> torch.Tensor:
    """(half + 1,): the sum of each row of ``_windows(half)`` (the same reduction, so the same bits)."""
    return _windows(half).sum(1)


def _envelope_long(x, centres, half, half_len, f0, sample_rate, f_lo, f_hi, order, alpha) -> torch.Tensor:
    """``envelope``'s arithmetic written plainly (frames, order); used when a window is longer
    than ``FFT`` (``rfft(y, FFT)`` then cuts it)."""
    B = x.shape[0]
    seg = _frames(x, centres, half).reshape(-1, 2 * half + 1)
    w = _windows(half)[half_len]
    y = seg * w
    y = y - w * (y.sum(1, keepdim=True) / w.sum(1, keepdim=True))  # remove DC under the window
    X = torch.fft.rfft(y, FFT)
    p = X.real.square() + X.imag.square()  # (frames, bins) power spectrum
    smooth = torch.fft.rfft(torch.fft.irfft(p, FFT) * _lookup(_box_table, f0, sample_rate, f_lo, f_hi, _LIFTER_STEPS / _BOX_EVERY), FFT).real.clamp(min=1e-12)
    cep = torch.fft.irfft(torch.log(smooth), FFT)[:, : FFT // 2 + 1]
    return (0.5 * cep * _lookup(_lifter_table, f0, sample_rate, f_lo, f_hi, _LIFTER_STEPS)) @ _cep_to_warped(order, alpha)


def envelope(x: torch.Tensor, sample_rate: int, centres: np.ndarray, f0: np.ndarray, unvoiced_f0: float,
             f0_min: float, order: int, alpha: float, f0_max: float | None = None,
             max_half: int | None = None) -> np.ndarray:
    """CheapTrick-style spectral envelope: (B, samples), F0 (B, frames) at ``centres`` ->
    (B, frames, order) warped cepstrum of the natural-log amplitude. ``f0_max`` (default:
    Nyquist) bounds the F0-indexed tables; YIN's largest F0 is ``sample_rate / (tau_min - 0.5)``.
    ``max_half``: no window reaches further than this from its centre (the low-latency mode's
    look-ahead; windows of lower F0 are shortened to it)."""
    B, F = f0.shape
    f0 = torch.from_numpy(np.where(f0 > 0, f0, unvoiced_f0).astype(np.float32)).reshape(-1)
    # the frame width is fixed by f0_min (not by this batch's lowest F0), so a segment analysed
    # alone gives bit-identical values to the same segment inside a batch (streaming == whole file)
    half = envelope_half(sample_rate, f0_min, unvoiced_f0)
    if max_half is not None:
        half = min(half, max_half)
    half_len = torch.round(1.5 * sample_rate / f0).long().clamp(max=half)  # window: 3 periods
    if min(f0_min, unvoiced_f0) < _F_LO / 0.9:
        raise ValueError(f"f0_min below {_F_LO / 0.9:.1f} Hz is not supported")
    f_lo = 0.9 * min(f0_min, unvoiced_f0)
    f_hi = sample_rate / 2 if f0_max is None else min(sample_rate / 2, max(1.1 * unvoiced_f0, 1.1 * f0_max))
    K = 2 * half + 1
    if K > FFT:  # windows longer than the spectrum (an f0_min far below the shipped models')
        return _envelope_long(x, centres, half, half_len, f0, sample_rate, f_lo, f_hi, order, alpha).numpy().reshape(B, F, order)
    # each windowed frame is written straight into its zero-padded FFT buffer; the arithmetic
    # (and so every bit) is that of _envelope_long, with fewer passes over memory
    buf = x.new_empty(B * F, FFT)
    buf[:, K:].zero_()
    y = buf[:, :K]
    w = torch.index_select(_windows(half), 0, half_len)
    torch.mul(_frames(x, centres, half), w.view(B, F, K), out=y.view(B, F, K))
    y.sub_(w * (y.sum(1, keepdim=True) / _window_sums(half)[half_len][:, None]))  # DC under the window
    sq = torch.view_as_real(torch.fft.rfft(buf)).square_()
    p = sq[..., 0] + sq[..., 1]  # (frames, bins) power spectrum
    # rectangular smoothing over 2/3 F0 in frequency == the autocorrelation times a sinc in lag
    # (the DFT's symmetry mirrors the spectrum at 0 and Nyquist, as CheapTrick does by hand)
    acf = torch.fft.irfft(p, FFT).mul_(_lookup(_box_table, f0, sample_rate, f_lo, f_hi, _LIFTER_STEPS / _BOX_EVERY))
    smooth = torch.fft.rfft(acf).real.clamp(min=1e-12).log_()
    # cepstral liftering (sinc smoothing + peak compensation at the F0 quefrency), then straight
    # into the warped cepstrum
    cep = torch.fft.irfft(smooth, FFT)[:, : FFT // 2 + 1].mul(0.5).mul_(_lookup(_lifter_table, f0, sample_rate, f_lo, f_hi, _LIFTER_STEPS))
    out = cep @ _cep_to_warped(order, alpha)
    return out.numpy().reshape(B, F, order)
