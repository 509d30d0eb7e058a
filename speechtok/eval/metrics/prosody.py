"""Prosody: F0 RMSE (Hz), Pearson correlation, gross pitch error and voicing decision error of
the decoded audio against the original.

F0 of both signals comes from YIN (``librosa.yin``, 50-500 Hz, frame 1024 / hop 160 at 16 kHz,
i.e. 10 ms). Frames are compared where the *original* is voiced by pYIN's voicing decision
(``librosa.pyin``) and loud enough (above -40 dB of its loudest frame), so a codec that loses
voicing or jumps an octave is penalised rather than excused. ``f0_gpe``: the share of frames
voiced in both signals (same rule on each) whose F0 differs by more than 20 %; ``vde``: the
share of frames whose voiced/unvoiced call differs.
"""

from __future__ import annotations

import numpy as np

FMIN, FMAX = 50.0, 500.0
FRAME, HOP = 1024, 160


def f0_track(wav: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """``(samples,)`` -> F0 in Hz per 10 ms frame ``(frames,)``."""
    import librosa

    return librosa.yin(np.asarray(wav, np.float32), fmin=FMIN, fmax=FMAX, sr=sample_rate,
                       frame_length=FRAME, hop_length=HOP)


def voiced_mask(wav: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """``(samples,)`` -> bool ``(frames,)``: voiced by pYIN and within 40 dB of the loudest frame."""
    import librosa

    wav = np.asarray(wav, np.float32)
    _, voiced, _ = librosa.pyin(wav, fmin=FMIN, fmax=FMAX, sr=sample_rate, frame_length=FRAME, hop_length=HOP)
    rms = librosa.feature.rms(y=wav, frame_length=FRAME, hop_length=HOP)[0]
    loud = 20 * np.log10(np.maximum(rms, 1e-10)) > 20 * np.log10(max(rms.max(), 1e-10)) - 40
    n = min(len(voiced), len(loud))
    return voiced[:n] & loud[:n]


def reference_f0(wav: np.ndarray, sample_rate: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """What the original contributes, computed once per utterance: ``(f0 (frames,), voiced (frames,))``."""
    f0 = f0_track(wav, sample_rate)
    mask = voiced_mask(wav, sample_rate)
    n = min(len(f0), len(mask))
    return f0[:n], mask[:n]


def f0_errors(ref_f0: np.ndarray, voiced: np.ndarray, deg: np.ndarray, sample_rate: int = 16000) -> dict[str, float]:
    """``{"f0_rmse": Hz, "f0_corr": Pearson r}`` over the original's voiced frames."""
    deg_f0 = f0_track(deg, sample_rate)
    n = min(len(ref_f0), len(deg_f0))
    m = voiced[:n]
    if m.sum() < 3:
        raise ValueError(f"only {int(m.sum())} voiced frames in the original: F0 is undefined")
    a, b = ref_f0[:n][m], deg_f0[:n][m]
    rmse = float(np.sqrt(np.mean((a - b) ** 2)))
    corr = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    out = {"f0_rmse": rmse}
    deg_voiced = voiced_mask(deg, sample_rate)
    k = min(len(voiced), len(deg_voiced), len(deg_f0), len(ref_f0))
    both = voiced[:k] & deg_voiced[:k]
    out["vde"] = float(np.mean(voiced[:k] != deg_voiced[:k]))
    if both.sum():
        out["f0_gpe"] = float(np.mean(np.abs(deg_f0[:k][both] / ref_f0[:k][both] - 1) > 0.2))
    else:
        out["f0_gpe"] = ValueError("no frame is voiced in both signals: gross pitch error undefined")
    if np.isfinite(corr):
        out["f0_corr"] = corr
    else:  # a flat contour (e.g. a pure tone) has no correlation; say so instead of inventing one
        out["f0_corr"] = ValueError("F0 correlation undefined: a contour is constant")
    return out
