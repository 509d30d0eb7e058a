"""Audio in: every bad input gives an AudioError naming the file; conversions; real resampling."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechtok import AudioError
from speechtok.audio import load_audio, prepare, resample, to_mono_float, write_audio_atomic


def sine(freq, sr, seconds=1.0, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x, sr):
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)]


# ---- bad files ---------------------------------------------------------------------------------
def test_missing(tmp_path):
    with pytest.raises(AudioError, match="nope.wav: no such file"):
        load_audio(tmp_path / "nope.wav")


def test_folder(tmp_path):
    with pytest.raises(AudioError, match="is a folder"):
        load_audio(tmp_path)


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav: empty file"):
        load_audio(p)


def test_text_file(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio\n")
    with pytest.raises(AudioError, match="notes.wav: not a readable audio file"):
        load_audio(p)


def test_zero_length_wav(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros(0, np.float32), 16000)
    assert p.stat().st_size > 0  # a valid header with no samples
    with pytest.raises(AudioError, match="zero.wav: zero-length audio"):
        load_audio(p)


@pytest.mark.parametrize("rate", [100, 999])
def test_absurd_rate_in_file(tmp_path, rate):
    p = tmp_path / "slow.wav"
    sf.write(p, sine(10, rate), rate)
    with pytest.raises(AudioError, match=f"slow.wav: absurd sample rate {rate}"):
        load_audio(p)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_samples(bad):
    x = sine(440, 16000)
    x[100] = bad
    with pytest.raises(AudioError, match="1 NaN or infinite samples"):
        prepare(x, 16000)


@pytest.mark.parametrize("rate", [0, -16000, 10, 16000.5, 10_000_000, "fast", None])
def test_absurd_rate_for_arrays(rate):
    with pytest.raises(AudioError, match="sample rate"):
        prepare(sine(440, 16000), rate)


@pytest.mark.parametrize("audio,why", [
    (np.zeros(0), "zero-length"), (np.zeros((0, 2)), "zero-length"), (np.zeros((2, 0)), "zero-length"),
    (np.zeros((2, 3, 4)), "expected audio of shape"), (np.array([True, False]), "boolean"),
])
def test_unusable_arrays(audio, why):
    with pytest.raises(AudioError, match=why):
        to_mono_float(audio)


# ---- conversions ---------------------------------------------------------------------------------
def test_int16_and_uint8_scaling():
    assert to_mono_float(np.array([-32768, 0, 16384], np.int16)).tolist() == [-1.0, 0.0, 0.5]
    assert to_mono_float(np.array([0, 128, 192], np.uint8)).tolist() == [-1.0, 0.0, 0.5]
    assert to_mono_float(np.array([0.25], np.float64)).dtype == np.float32


def test_stereo_downmix_either_layout():
    left, right = sine(440, 16000), sine(660, 16000)
    want = (left + right) / 2
    np.testing.assert_allclose(to_mono_float(np.stack([left, right], 1)), want, atol=1e-6)  # (samples, ch)
    np.testing.assert_allclose(to_mono_float(np.stack([left, right], 0)), want, atol=1e-6)  # (ch, samples)


def test_stereo_int16_file_and_formats(tmp_path):
    left, right = sine(440, 16000), sine(660, 16000)
    stereo = (np.stack([left, right], 1) * 32767).astype(np.int16)
    for name, kw in [("s.wav", {}), ("s.flac", {}), ("s.ogg", {"format": "OGG", "subtype": "VORBIS"})]:
        sf.write(tmp_path / name, stereo, 16000, **kw)
        x, sr = load_audio(tmp_path / name)
        assert sr == 16000 and x.ndim == 1 and x.dtype == np.float32 and abs(len(x) - 16000) < 1000
        tol = 0.1 if name.endswith("ogg") else 1e-3  # vorbis is lossy
        assert np.sqrt(np.mean((x[:15000] - (left + right)[:15000] / 2) ** 2)) < tol


# ---- resampling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sr", [48000, 44100, 8000, 22050])
@pytest.mark.parametrize("freq", [440.0, 3000.0])
def test_resample_keeps_frequency_and_length(tmp_path, sr, freq):
    p = tmp_path / "tone.wav"
    sf.write(p, sine(freq, sr), sr)
    x, out_sr = load_audio(p, target_sr=16000)
    assert out_sr == 16000 and abs(len(x) - 16000) <= 1
    assert abs(peak_hz(x, 16000) - freq) <= 1.0
    assert np.sqrt(np.mean(x[2000:-2000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resampler_is_band_limited():
    """A 10 kHz tone cannot exist at 16 kHz: a real resampler removes it, while linear
    interpolation would fold it to 6 kHz at nearly full level."""
    x = resample(sine(10_000, 48000), 48000, 16000)
    assert np.sqrt(np.mean(x[1000:-1000] ** 2)) < 0.5 / np.sqrt(2) * 0.01  # at least 40 dB down
    kept = resample(sine(7000, 48000), 48000, 16000)  # just under the new Nyquist: kept
    assert abs(peak_hz(kept, 16000) - 7000) <= 1.0


def test_write_audio_atomic(tmp_path):
    write_audio_atomic(tmp_path / "o" / "x.wav", sine(440, 16000) * 3, 16000)  # clipped, not wrapped
    x, sr = load_audio(tmp_path / "o" / "x.wav")
    assert sr == 16000 and x.max() <= 1.0 and x.max() > 0.99
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["x.wav"]
