"""Signal-level distances between an original ``ref`` and a decoded ``deg`` waveform.

All take mono float32 ``(samples,)`` arrays of the same length and sample rate.

Definitions (stated here because papers differ):
- ``log_mel_l1``: mean |log(max(M_ref, 1e-5)) - log(max(M_deg, 1e-5))| over an 80-band mel
  magnitude spectrogram (natural log; n_fft 1024, hop 256, Hann window, 0 Hz to sr/2, Slaney mel),
  as in HiFi-GAN/Vocos training losses. 0 for identical signals; lower is better.
- ``mrstft``: the multi-resolution STFT loss of Parallel WaveGAN, averaged over three
  resolutions (n_fft, hop) = (512, 128), (1024, 256), (2048, 512): spectral convergence
  ||S_ref - S_deg||_F / ||S_ref||_F plus mean |log S_ref - log S_deg| (magnitudes clamped at 1e-7).
- ``si_sdr``: scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019) on
  zero-mean signals. Higher is better; white noise at SNR s dB added to a signal gives about s.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...dsp import mel_filterbank, stft_magnitude

EPS = 1e-8


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    # the same Slaney filterbank the codec trains with (equal to librosa.filters.mel's default)
    return mel_filterbank(sample_rate, n_fft, n_mels)


def log_mel(x: np.ndarray, sample_rate: int, n_fft: int = 1024, hop: int = 256, n_mels: int = 80) -> np.ndarray:
    """``(samples,)`` -> natural-log mel magnitudes ``(n_mels, frames)``, clamped at 1e-5."""
    mel = _mel_basis(sample_rate, n_fft, n_mels) @ stft_magnitude(x, n_fft, hop)
    return np.log(np.maximum(mel, 1e-5))


def log_mel_l1(ref: np.ndarray, deg: np.ndarray, sample_rate: int) -> float:
    return float(np.mean(np.abs(log_mel(ref, sample_rate) - log_mel(deg, sample_rate))))


MRSTFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))


def mrstft(ref: np.ndarray, deg: np.ndarray, sample_rate: int | None = None) -> float:
    total = 0.0
    for n_fft, hop in MRSTFT_RESOLUTIONS:
        s_ref = stft_magnitude(ref, n_fft, hop)
        s_deg = stft_magnitude(deg, n_fft, hop)
        sc = np.linalg.norm(s_ref - s_deg) / max(np.linalg.norm(s_ref), EPS)
        mag = np.mean(np.abs(np.log(np.maximum(s_ref, 1e-7)) - np.log(np.maximum(s_deg, 1e-7))))
        total += sc + mag
    return float(total / len(MRSTFT_RESOLUTIONS))


def si_sdr(ref: np.ndarray, deg: np.ndarray, sample_rate: int | None = None) -> float:
    ref = np.asarray(ref, dtype=np.float64) - np.mean(ref)
    deg = np.asarray(deg, dtype=np.float64) - np.mean(deg)
    energy = np.dot(ref, ref)
    if energy <= EPS:
        raise ValueError("SI-SDR is undefined for a silent reference")
    target = np.dot(deg, ref) / energy * ref
    noise = deg - target
    return float(10 * np.log10(max(np.dot(target, target), EPS) / max(np.dot(noise, noise), EPS)))
