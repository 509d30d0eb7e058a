"""An unsupervised syllable segmenter for 16 kHz mono speech (numpy + scipy, no training).

1. **Envelope**: the power in 300-2500 Hz (where vowels carry most of their energy and fricatives
   little) of 25 ms Hann windows every 10 ms (frame j centred on sample ``160 j + 80``), as an
   amplitude, smoothed by a Gaussian (``smooth_ms``), in dB.
2. **Speech**: frames whose envelope is within ``speech_db`` of the utterance maximum; pauses
   shorter than ``min_pause_ms`` are bridged, runs shorter than ``min_syllable_ms`` dropped.
3. **Nuclei**: peaks of the envelope inside speech with a prominence of at least
   ``prominence_db`` (scipy's topographic prominence), at least ``min_gap_ms`` apart.
4. **Boundaries**: the envelope minimum between successive nuclei; each speech run's start and
   end close its first and last syllable. A run without a peak is one syllable.

Syllables tile each speech run: ``segment(wav)`` returns ``[(start, end), ...]`` in seconds,
sorted, non-overlapping, each inside the audio. The defaults were chosen by a small grid (smoothing 20/25 ms x
prominence 1/1.5/2 dB x speech 45/50 dB, after a coarser one) on 120 utterances of the asterisk-en
train split and checked on its valid split (boundary F1 at 50 ms: 0.74 and 0.78), never on its
test split. 50 dB scored a little higher on both; 45 dB keeps a margin for noisier recordings.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
HOP = 160  # 10 ms
WIN, NFFT = 400, 512
FRAME_SECONDS = HOP / SAMPLE_RATE


@dataclass(frozen=True)
class SegmenterConfig:
    band_hz: tuple[float, float] = (300.0, 2500.0)
    smooth_ms: float = 25.0  # standard deviation of the Gaussian smoother of the envelope
    speech_db: float = 45.0  # speech: envelope within this many dB of the utterance's maximum
    prominence_db: float = 1.5  # a nucleus stands at least this far above the dips on both sides
    min_gap_ms: float = 80.0  # nuclei closer than this: the higher one is kept
    min_pause_ms: float = 60.0  # shorter non-speech gaps inside speech are bridged
    min_syllable_ms: float = 50.0  # shorter speech runs are dropped


@lru_cache(maxsize=4)
def _band_weights(lo: float, hi: float) -> np.ndarray:
    f = np.fft.rfftfreq(NFFT, 1 / SAMPLE_RATE)
    return ((f >= lo) & (f <= hi)).astype(np.float64)


def envelope_db(wav: np.ndarray, config: SegmenterConfig = SegmenterConfig()) -> np.ndarray:
    """``(samples,)`` at 16 kHz -> ``(ceil(samples / 160),)`` smoothed band envelope in dB."""
    n = max(1, int(np.ceil(len(wav) / HOP)))
    pad = (WIN - HOP) // 2
    x = np.pad(np.asarray(wav, np.float64), (pad, pad + n * HOP + WIN - len(wav)))
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP][:n] * np.hanning(WIN)
    power = (np.abs(np.fft.rfft(frames, NFFT)) ** 2) @ _band_weights(*config.band_hz)
    amp = np.sqrt(power)
    sigma = config.smooth_ms / 10.0
    if sigma > 0:
        from scipy.ndimage import gaussian_filter1d

        amp = gaussian_filter1d(amp, sigma, mode="nearest")
    return 20 * np.log10(amp + 1e-9)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index ranges where ``mask`` is true."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def speech_runs(env: np.ndarray, config: SegmenterConfig = SegmenterConfig()) -> list[tuple[int, int]]:
    """Frame ranges ``[start, end)`` of speech (see module doc, step 2)."""
    if len(env) == 0 or env.max() < -120:  # digital silence
        return []
    runs = _runs(env > env.max() - config.speech_db)
    bridged: list[list[int]] = []
    for a, b in runs:
        if bridged and (a - bridged[-1][1]) * 10 < config.min_pause_ms:
            bridged[-1][1] = b
        else:
            bridged.append([a, b])
    return [(a, b) for a, b in bridged if (b - a) * 10 >= config.min_syllable_ms]


def nuclei(env: np.ndarray, runs: list[tuple[int, int]], config: SegmenterConfig = SegmenterConfig()) -> np.ndarray:
    """Frame indices of the syllable nuclei (see module doc, step 3)."""
    from scipy.signal import find_peaks

    peaks, _ = find_peaks(env, prominence=config.prominence_db, distance=max(1, int(round(config.min_gap_ms / 10))))
    inside = np.zeros(len(env), bool)
    for a, b in runs:
        inside[a:b] = True
    return peaks[inside[peaks]] if len(peaks) else peaks


def segment_frames(env: np.ndarray, config: SegmenterConfig = SegmenterConfig()) -> list[tuple[int, int]]:
    """Syllables as frame ranges ``[start, end)`` of the envelope ``env``."""
    runs = speech_runs(env, config)
    peaks = nuclei(env, runs, config)
    out: list[tuple[int, int]] = []
    for a, b in runs:
        p = peaks[(peaks >= a) & (peaks < b)]
        cuts = [a]
        for x, y in zip(p[:-1], p[1:]):
            cuts.append(int(x + np.argmin(env[x : y + 1])))
        cuts.append(b)
        out.extend((s, e) for s, e in zip(cuts[:-1], cuts[1:]) if e > s)
    return out


def segment(wav: np.ndarray, config: SegmenterConfig = SegmenterConfig()) -> list[tuple[float, float]]:
    """``(samples,)`` float at 16 kHz -> syllables ``[(start, end), ...]`` in seconds."""
    dur = len(wav) / SAMPLE_RATE
    return [(round(a * FRAME_SECONDS, 4), round(min(b * FRAME_SECONDS, dur), 4))
            for a, b in segment_frames(envelope_db(wav, config), config)]
