"""Augmentation of analysed frames, for fitting codebooks and the refiner on more voices than the data has.

All of it works on the parameters (no re-analysis), so it costs a few matrix products:

* ``warp_envelope``: vocal-tract-length warping: the log envelope ``E(f)`` becomes ``E(f / factor)``
  (factor > 1 moves every formant up by that factor: a shorter vocal tract);
* ``scale_f0``: pitch times a factor (voiced frames only);
* ``shift_level``: the whole envelope up or down by some dB (the cepstrum's c0);
* ``augment_frames``: a seeded random mix of the three over whole utterances.

Audio-level channel augmentation (telephone band, codec round trips) needs no code here: narrowband
input is handled by the band limit (``band.py``), and the corpus has real narrowband voices.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .analysis import Frames
from .envelope import matrices

_BINS = 257


@lru_cache(maxsize=64)
def _warp_matrix(factor: float, order: int, alpha: float) -> np.ndarray:
    """(order, order): cepstrum of E(f) -> cepstrum of E(f / factor), through the bins.
    Above the top the envelope holds its last value (a shorter tract moves energy out of band)."""
    analysis, synthesis = matrices(_BINS, order, alpha)  # (bins, order), (order, bins)
    src = np.linspace(0, 1, _BINS) / factor  # where each output bin reads the input (fraction of Nyquist)
    pos = (src * (_BINS - 1)).clip(0, _BINS - 1)
    i0 = np.floor(pos).astype(int).clip(0, _BINS - 2)
    w = pos - i0
    resample = np.zeros((_BINS, _BINS), np.float32)  # input bins -> output bins
    resample[i0, np.arange(_BINS)] += 1 - w
    resample[i0 + 1, np.arange(_BINS)] += w
    return (synthesis @ resample @ analysis).astype(np.float32)


def warp_envelope(cep: np.ndarray, factor: float, alpha: float) -> np.ndarray:
    """(..., order) warped cepstrum -> the cepstrum of the envelope with its frequency axis
    stretched by ``factor`` (formants at ``f`` move to ``f * factor``)."""
    if factor == 1.0:
        return cep
    return (cep.astype(np.float32) @ _warp_matrix(round(float(factor), 4), cep.shape[-1], alpha)).astype(cep.dtype)


def scale_f0(f0: np.ndarray, factor: float) -> np.ndarray:
    return np.where(f0 > 0, f0 * factor, 0.0).astype(f0.dtype)


def shift_level(cep: np.ndarray, db: float) -> np.ndarray:
    out = cep.copy()
    out[..., 0] += db / 20 * np.log(10)  # c0 is the mean natural-log amplitude
    return out


def augment_frames(fr: Frames, lengths, alpha: float, seed: int = 0, warp: float = 0.12, pitch: float = 0.3,
                   level_db: float = 6.0, fraction: float = 1.0) -> Frames:
    """A copy of ``fr`` (utterances of ``lengths`` frames, concatenated) in which ``fraction`` of
    the utterances get a random warp factor in ``[1 - warp, 1 + warp]``, an F0 factor in
    ``[1 - pitch, 1 + pitch]`` (log-uniform) and a level shift in ``±level_db`` dB; the others are
    unchanged. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    f0, cep = fr.f0.copy(), fr.cep.copy()
    start = 0
    for n in np.asarray(lengths, int):
        sl = slice(start, start + n)
        start += n
        if rng.random() >= fraction:
            continue
        wf = float(np.exp(rng.uniform(np.log(1 - warp), np.log(1 + warp)))) if warp else 1.0
        pf = float(np.exp(rng.uniform(np.log(1 - pitch), np.log(1 + pitch)))) if pitch else 1.0
        lv = float(rng.uniform(-level_db, level_db)) if level_db else 0.0
        cep[sl] = shift_level(warp_envelope(cep[sl], wf, alpha), lv)
        f0[sl] = scale_f0(f0[sl], pf)
    out = Frames(f0, cep, fr.bap.copy())
    out.lengths = np.asarray(lengths)  # type: ignore[attr-defined]
    return out
