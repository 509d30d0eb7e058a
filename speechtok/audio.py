"""Reading and converting audio: any rate, any channel count, int or float, with clear errors.

Everything inside speechtok works on mono float32 numpy arrays of shape ``(samples,)`` in
[-1, 1]; this module is the one place that turns files and arrays into that form.
"""

from __future__ import annotations

import os
import struct
import warnings
from pathlib import Path

import numpy as np

from .errors import AudioError, AudioTooLongError, SpeechtokWarning

MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
#: 2-D audio: the short axis is channels when it has at most MAX_CHANNELS entries and the long
#: axis (samples) is at least CHANNEL_RATIO times longer; any other 2-D shape is refused, not guessed
MAX_CHANNELS = 64
CHANNEL_RATIO = 16

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".au", ".w64")


def _where(path: str | os.PathLike | None) -> str:
    return f"{path}: " if path is not None else ""


def check_sample_rate(sample_rate, path=None) -> int:
    if sample_rate is None:
        raise AudioError(f"{_where(path)}a sample rate is required (got None)")
    try:
        sr = int(sample_rate)
    except (TypeError, ValueError):
        raise AudioError(f"{_where(path)}sample rate {sample_rate!r} is not a number") from None
    if sr != sample_rate or not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
        raise AudioError(
            f"{_where(path)}absurd sample rate {sample_rate!r} "
            f"(expected an integer between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz)"
        )
    return sr


def to_mono_float(audio, path=None) -> np.ndarray:
    """Any array-like (samples,), (samples, channels) or (channels, samples), int or float,
    to mono float32 ``(samples,)``. Integer PCM is scaled to [-1, 1]; channels are averaged.

    A 2-D array is read by ``channel_axis``: (samples, channels) as soundfile returns it, or
    (channels, samples) as torch code usually has it, whichever the shape makes plain; a shape
    that could be either is an AudioError, never a guess.
    """
    if hasattr(audio, "detach"):  # a torch tensor, without importing torch here
        audio = audio.detach().cpu().numpy()
    a = np.asarray(audio)
    if a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        if a.dtype.kind == "u":  # unsigned PCM is offset binary
            a = (a.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)
        else:
            a = a.astype(np.float64) / (info.max + 1)
    elif a.dtype.kind == "f":
        a = a.astype(np.float64, copy=False)
    elif a.dtype.kind == "b":
        raise AudioError(f"{_where(path)}boolean array is not audio")
    else:
        raise AudioError(f"{_where(path)}unsupported sample type {a.dtype}")
    if a.size == 0:  # before the downmix, which would average an empty axis into NaN
        raise AudioError(f"{_where(path)}zero-length audio (no samples)")
    if a.ndim == 2:
        a = a.mean(axis=channel_axis(a.shape, path))
    elif a.ndim != 1:
        raise AudioError(f"{_where(path)}expected audio of shape (samples,) or 2-D with channels, got {a.shape}")
    if a.size == 0:
        raise AudioError(f"{_where(path)}zero-length audio (no samples)")
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise AudioError(f"{_where(path)}audio has {bad} NaN or infinite samples")
    return a.astype(np.float32)


def channel_axis(shape: tuple[int, ...], path=None) -> int:
    """Which axis of a 2-D audio array holds the channels: 1 for ``(samples, channels)``, 0 for
    ``(channels, samples)``. Raises AudioError, saying which axis could be which, when the shape
    does not make it plain (see MAX_CHANNELS, CHANNEL_RATIO)."""
    rows, cols = shape
    if cols == 1:
        return 1
    if rows == 1:
        return 0
    short, long = min(rows, cols), max(rows, cols)
    if rows != cols and short <= MAX_CHANNELS and long >= CHANNEL_RATIO * short:
        return 1 if cols < rows else 0
    raise AudioError(
        f"{_where(path)}ambiguous audio shape {tuple(shape)}: axis 0 ({rows}) and axis 1 ({cols}) could each be "
        f"the channels; speechtok reads the short axis as channels only when it has at most {MAX_CHANNELS} "
        f"and the other axis (samples) is at least {CHANNEL_RATIO} times longer. Pass mono (samples,) audio, "
        f"or (samples, channels) / (channels, samples) that meets that rule"
    )


def num_samples(audio) -> int:
    """Samples per channel of ``(samples,)`` or 2-D audio, by the rule of ``to_mono_float``."""
    shape = np.shape(audio)
    if len(shape) == 2:
        return shape[0] if channel_axis(shape) == 1 else shape[1]
    return shape[-1] if shape else 0


def wav_shortfall(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(bytes the header promises, bytes present)`` of a RIFF/WAVE file's data chunk when the
    file is shorter than its header says (a copy or recording cut off), else None. A size of 0 or
    0xFFFFFFFF (streaming writers that never filled it in) promises nothing."""
    p = Path(path)
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
                return None
            order = "<" if head[:4] == b"RIFF" else ">"
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                cid, clen = struct.unpack(order + "4sI", f.read(8))
                if cid == b"data":
                    present = size - pos - 8
                    if clen not in (0, 0xFFFFFFFF) and clen > present:
                        return clen, present
                    return None
                pos += 8 + clen + (clen & 1)
    except (OSError, struct.error):
        return None
    return None


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling with soxr (VHQ); returns float32 ``(samples,)``."""
    if orig_sr == target_sr:
        return audio.astype(np.float32, copy=False)
    import soxr

    out = soxr.resample(audio.astype(np.float32, copy=False), orig_sr, target_sr, quality="VHQ")
    return np.ascontiguousarray(out, dtype=np.float32)


def prepare(audio, sample_rate, target_sr: int | None = None, path=None) -> np.ndarray:
    """Array + its sample rate -> mono float32 at ``target_sr`` (or the same rate)."""
    sr = check_sample_rate(sample_rate, path)
    mono = to_mono_float(audio, path)
    return resample(mono, sr, target_sr) if target_sr else mono


def load_audio(path: str | os.PathLike, target_sr: int | None = None) -> tuple[np.ndarray, int]:
    """Read a file soundfile can read (wav, flac, ogg/vorbis, ogg/opus, ...) as mono float32.

    Returns ``(audio (samples,), sample_rate)``; resamples when ``target_sr`` is given.
    Raises AudioError naming the file for: missing, a folder, empty, not audio, zero-length,
    NaN/inf samples, absurd sample rate.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: empty file (0 bytes)")
    return _read(str(p), p, target_sr)


def read_audio_bytes(data: bytes, where: str = "<bytes>", target_sr: int | None = None,
                     max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """The bytes of an audio file (an upload) -> ``(mono float32 (samples,), sample_rate)``, with
    the errors of `load_audio` naming ``where``. ``max_seconds`` refuses longer audio before it
    is decoded in full (a small compressed file can hold hours of silence)."""
    import io

    if not data:
        raise AudioError(f"{where}: empty file (0 bytes)")
    return _read(io.BytesIO(data), where, target_sr, max_seconds)


def _read(source, where, target_sr: int | None, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        with sf.SoundFile(source) as f:
            sr = f.samplerate
            check_sample_rate(sr, where)
            limit = -1
            if max_seconds is not None:
                limit = int(max_seconds * sr) + 1
                if 0 < f.frames < 2**62 and f.frames >= limit:  # the header's count, when it has one
                    raise AudioTooLongError(f"{where}: {f.frames / sr:.1f} s of audio; the limit is {max_seconds:g} s")
            data = f.read(frames=limit, dtype="float32", always_2d=True)
    except AudioError:
        raise
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if msg.startswith("Error opening "):  # libsndfile repeats the source: keep its reason only
            msg = msg.rsplit(": ", 1)[-1]
        raise AudioError(f"{where}: not a readable audio file ({msg})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{where}: zero-length audio (no samples)")
    if max_seconds is not None and data.shape[0] > max_seconds * sr:
        raise AudioTooLongError(f"{where}: more than {max_seconds:g} s of audio; that is the limit")
    short = wav_shortfall(source) if isinstance(source, (str, os.PathLike)) else None  # the RIFF header itself
    if short:
        promised, present = short
        have = data.shape[0] / sr
        warnings.warn(
            f"{where}: truncated WAV: the header promises {have * promised / max(present, 1):.2f} s, the file holds "
            f"{have:.2f} s ({100 * (1 - present / promised):.0f}% missing); using the part that is there",
            SpeechtokWarning, stacklevel=3,
        )
    mono = to_mono_float(data.mean(axis=1) if data.shape[1] > 1 else data[:, 0], where)
    if target_sr and target_sr != sr:
        return resample(mono, sr, target_sr), int(target_sr)
    return mono, int(sr)


def write_audio_atomic(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write a 16-bit wav to a temporary name beside ``path``, then rename it into place."""
    from .fsutil import write_atomic

    data = wav_bytes(audio, sample_rate)  # in memory first: a full disk is then a plain OSError, not libsndfile's
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """The bytes of a 16-bit wav file of ``audio`` (float32, clipped to [-1, 1])."""
    import io

    buf = io.BytesIO()
    _write_wav(buf, audio, sample_rate)
    return buf.getvalue()


def _write_wav(target, audio: np.ndarray, sample_rate: int) -> None:
    import soundfile as sf

    sf.write(target, np.clip(audio, -1.0, 1.0), int(sample_rate), subtype="PCM_16", format="WAV")


def is_audio_path(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS
