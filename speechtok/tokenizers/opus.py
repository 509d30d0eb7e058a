"""Opus (RFC 6716) through libopus, as a tokenizer: each 20 ms packet's bytes are its tokens.

Names: ``opus@<N>kbps`` (any N from 6 to 510 that gives a whole number of bytes per 20 ms
packet, e.g. 6, 8, 12, 16) lets libopus choose the audio bandwidth, as it would in a real call
(with libopus 1.3.1 on speech: narrowband up to 8 kbps, wideband from about 10 kbps).
``opus@<N>kbps-wb`` (or ``-nb``, ``-mb``) forces it; wideband needs N >= 8, because below that
libopus codes narrowband whatever it is asked (see MIN_KBPS_FOR_BANDWIDTH).

Choices, and why:

* 16 kHz in and out. speechtok, its corpora and its quality metrics (PESQ-WB, STOI) work at
  16 kHz, and at 6-16 kbps libopus codes speech with SILK at narrow- to wideband (<= 8 kHz of
  audio) anyway, so a 48 kHz signal would only carry content nobody measures.
* 20 ms frames, application VOIP, complexity 10, signal hint voice: what a VoIP client does.
* Constant bitrate, so every packet has exactly ``kbps * 2.5`` bytes and the packets form a
  ``[bytes_per_packet, packets]`` array of byte tokens (codebook size 256 each, 50 frames/s).
  libopus pads CBR packets to the exact size itself; should a packet ever come out shorter we
  pad it with ``opus_packet_pad`` (Opus's own padding, which every decoder ignores), never with
  bytes of our own.
* ``opus@<N>kbps-vbr`` (also ``-wb-vbr`` etc.): variable bitrate around N kbps, what opusenc and
  ffmpeg's libopus do by default, and on speech the stronger codec at a given average rate. A
  packet's size varies, so each frame is ``[length, byte 1 .. byte MAX]``: the packet's length in
  bytes (a token of its own, codebook size MAX + 1), then its bytes, zero after the end (those
  zeros are not sent). MAX is VBR_PEAK times the CBR packet size; libopus is told it may not
  exceed it. ``Tokens.bits`` counts the payload actually carried (the length tokens' sum × 8,
  in ``extra["payload_bits"]``), so the measured kbps is what a network would carry, without
  the container (an Ogg file adds about 0.8 kbps at 50 packets/s).
* Alignment: the encoder looks ahead ``opus_encoder_ctl(OPUS_GET_LOOKAHEAD)`` samples (104 at
  16 kHz with VOIP: 2.5 ms of CELT overlap + 4 ms of delay compensation). We feed that many
  extra zeros at the end so the last input samples are coded, and drop that many samples from
  the start of the decoded audio (the "pre-skip" of Ogg Opus), so output sample i lines up
  with input sample i.
"""

from __future__ import annotations

import ctypes
import functools
import re

import numpy as np

from ..errors import TokensFileError, UnknownTokenizerError
from ._clib import load_library
from .base import Tokenizer

# From opus_defines.h (stable ABI; the headers are not needed at run time).
OPUS_OK = 0
OPUS_APPLICATION_VOIP = 2048
OPUS_SET_BITRATE_REQUEST = 4002
OPUS_SET_VBR_REQUEST = 4006
OPUS_SET_BANDWIDTH_REQUEST = 4008
OPUS_SET_COMPLEXITY_REQUEST = 4010
OPUS_SET_SIGNAL_REQUEST = 4024
OPUS_GET_LOOKAHEAD_REQUEST = 4027
OPUS_SIGNAL_VOICE = 3001
BANDWIDTHS = {"nb": 1101, "mb": 1102, "wb": 1103}  # narrow (4 kHz), medium (6), wide (8)
# libopus caps SILK at narrowband below 7 kbps and at mediumband below 8 kbps, whatever is
# requested (opus_encoder.c; checked on 1.3.1 from the packets' TOC bytes), so a forced
# bandwidth is only offered where libopus honours it.
MIN_KBPS_FOR_BANDWIDTH = {"nb": 6, "mb": 7, "wb": 8}

SAMPLE_RATE = 16000
FRAME_SAMPLES = 320  # 20 ms at 16 kHz
MIN_KBPS, MAX_KBPS = 6, 510
USUAL_KBPS = (6, 8, 12, 16)

VBR_PEAK = 4  # a VBR packet may be up to this many times the CBR packet size
_NAME = re.compile(r"^opus@(\d+(?:\.\d+)?)kbps(?:-(nb|mb|wb))?(-vbr)?$")


class _LibOpus:
    """The few libopus functions we use, with their C signatures."""

    def __init__(self):
        lib = load_library(["libopus.so.0"], "opus", "libopus0")
        c_void_p, c_int, c_int32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int32
        lib.opus_get_version_string.restype = ctypes.c_char_p
        lib.opus_strerror.restype = ctypes.c_char_p
        lib.opus_strerror.argtypes = [c_int]
        lib.opus_encoder_create.restype = c_void_p
        lib.opus_encoder_create.argtypes = [c_int32, c_int, c_int, ctypes.POINTER(c_int)]
        lib.opus_encoder_destroy.argtypes = [c_void_p]
        lib.opus_encode_float.restype = c_int32
        lib.opus_encode_float.argtypes = [c_void_p, c_void_p, c_int, c_void_p, c_int32]
        lib.opus_decoder_create.restype = c_void_p
        lib.opus_decoder_create.argtypes = [c_int32, c_int, ctypes.POINTER(c_int)]
        lib.opus_decoder_destroy.argtypes = [c_void_p]
        lib.opus_decode_float.restype = c_int
        lib.opus_decode_float.argtypes = [c_void_p, c_void_p, c_int32, c_void_p, c_int, c_int]
        lib.opus_packet_pad.restype = c_int
        lib.opus_packet_pad.argtypes = [c_void_p, c_int32, c_int32]
        # opus_encoder_ctl is variadic: no argtypes, every argument passed as a ctypes object.
        self.lib = lib
        self.version = lib.opus_get_version_string().decode()

    def check(self, ret: int, what: str) -> int:
        if ret < 0:
            raise RuntimeError(f"libopus {what} failed: {self.lib.opus_strerror(ret).decode()}")
        return ret

    def encoder(self, sample_rate: int, bitrate: int, bandwidth: int | None, vbr: bool = False) -> ctypes.c_void_p:
        err = ctypes.c_int(0)
        st = self.lib.opus_encoder_create(sample_rate, 1, OPUS_APPLICATION_VOIP, ctypes.byref(err))
        self.check(err.value, "opus_encoder_create")
        st = ctypes.c_void_p(st)
        settings = [
            (OPUS_SET_BITRATE_REQUEST, bitrate),
            (OPUS_SET_VBR_REQUEST, int(vbr)),
            (OPUS_SET_COMPLEXITY_REQUEST, 10),
            (OPUS_SET_SIGNAL_REQUEST, OPUS_SIGNAL_VOICE),
        ]
        if bandwidth is not None:
            settings.append((OPUS_SET_BANDWIDTH_REQUEST, bandwidth))
        for request, value in settings:
            self.check(self.lib.opus_encoder_ctl(st, ctypes.c_int(request), ctypes.c_int32(value)), "encoder_ctl")
        return st

    def lookahead(self, st: ctypes.c_void_p) -> int:
        out = ctypes.c_int32(0)
        self.check(self.lib.opus_encoder_ctl(st, ctypes.c_int(OPUS_GET_LOOKAHEAD_REQUEST), ctypes.byref(out)), "ctl")
        return out.value

    def decoder(self, sample_rate: int) -> ctypes.c_void_p:
        err = ctypes.c_int(0)
        st = self.lib.opus_decoder_create(sample_rate, 1, ctypes.byref(err))
        self.check(err.value, "opus_decoder_create")
        return ctypes.c_void_p(st)


@functools.lru_cache(maxsize=1)
def libopus() -> _LibOpus:
    """The loaded library (raises MissingDependencyError with the apt-get command if absent)."""
    return _LibOpus()


class OpusTokenizer(Tokenizer):
    """Opus at a constant bitrate, codes ``[bytes_per_packet, packets]``, 256 values each; or at a
    variable bitrate (``vbr``), codes ``[1 + max_bytes, packets]``: length, then bytes."""

    sample_rate = SAMPLE_RATE
    frame_rate = SAMPLE_RATE / FRAME_SAMPLES
    thread_safe = True  # a fresh libopus state per call

    def __init__(self, kbps: float, bandwidth: str | None = None, vbr: bool = False):
        nbytes = kbps * 1000 * FRAME_SAMPLES / SAMPLE_RATE / 8
        if not (MIN_KBPS <= kbps <= MAX_KBPS and nbytes == int(nbytes)):
            raise UnknownTokenizerError(
                f"opus@{kbps:g}kbps: the bitrate must be {MIN_KBPS}-{MAX_KBPS} kbps and give a whole "
                f"number of bytes per 20 ms packet (a multiple of 0.4 kbps), e.g. opus@6kbps"
            )
        if bandwidth and kbps < MIN_KBPS_FOR_BANDWIDTH[bandwidth]:
            raise UnknownTokenizerError(
                f"opus@{kbps:g}kbps-{bandwidth}: libopus cannot code {bandwidth.upper()} below "
                f"{MIN_KBPS_FOR_BANDWIDTH[bandwidth]} kbps (it falls back to narrower audio); "
                f"use opus@{MIN_KBPS_FOR_BANDWIDTH[bandwidth]}kbps-{bandwidth} or more"
            )
        self.kbps = kbps
        self.bandwidth = bandwidth
        self.vbr = vbr
        self.bytes_per_packet = int(nbytes)  # CBR: every packet; VBR: the average
        self.max_bytes = VBR_PEAK * self.bytes_per_packet if vbr else self.bytes_per_packet
        self.codebook_sizes = ((self.max_bytes + 1,) if vbr else ()) + (256,) * self.max_bytes
        self.name = f"opus@{kbps:g}kbps" + (f"-{bandwidth}" if bandwidth else "") + ("-vbr" if vbr else "")
        self.version = libopus().version
        st = self._new_encoder()
        try:
            self.lookahead = libopus().lookahead(st)
        finally:
            libopus().lib.opus_encoder_destroy(st)

    def _new_encoder(self) -> ctypes.c_void_p:
        bw = BANDWIDTHS[self.bandwidth] if self.bandwidth else None
        return libopus().encoder(SAMPLE_RATE, int(round(self.kbps * 1000)), bw, self.vbr)

    def _encode(self, wav: np.ndarray) -> np.ndarray:
        """``(samples,)`` float32 at 16 kHz -> codes ``[bytes_per_packet, packets]`` (CBR) or
        ``[1 + max_bytes, packets]`` (VBR: length, bytes, zeros). A fresh encoder per waveform,
        so a batch encodes exactly as one by one."""
        n_packets = max(1, -(-(len(wav) + self.lookahead) // FRAME_SAMPLES))
        pcm = np.zeros(n_packets * FRAME_SAMPLES, dtype=np.float32)
        pcm[: len(wav)] = wav
        st = self._new_encoder()
        try:
            return self._encode_packets(st, pcm)
        finally:
            libopus().lib.opus_encoder_destroy(st)

    def _encode_packets(self, st: ctypes.c_void_p, pcm: np.ndarray) -> np.ndarray:
        """Whole 20 ms frames of float32 ``pcm`` through encoder ``st`` -> codes (CBR or VBR layout)."""
        op = libopus()
        pcm = np.ascontiguousarray(pcm, dtype=np.float32)
        n_packets = len(pcm) // FRAME_SAMPLES
        packets = np.zeros((n_packets, self.max_bytes), dtype=np.uint8)
        lengths = np.zeros(n_packets, dtype=np.int64)
        frame_bytes = FRAME_SAMPLES * pcm.itemsize
        for i in range(n_packets):
            out = packets[i].ctypes.data
            got = op.check(
                op.lib.opus_encode_float(st, pcm.ctypes.data + i * frame_bytes, FRAME_SAMPLES, out, self.max_bytes),
                "opus_encode_float",
            )
            if not self.vbr and got < self.bytes_per_packet:  # never seen with libopus 1.3 CBR; see module doc
                got = op.check(op.lib.opus_packet_pad(out, got, self.bytes_per_packet), "opus_packet_pad") or got
            lengths[i] = got
        if not self.vbr:
            return packets.T.astype(np.int64)
        return np.concatenate([lengths[None], packets.T.astype(np.int64)])

    @property
    def bitrate(self) -> float:
        """Nominal bits per second: for VBR the target average (the codes' zeros are not sent)."""
        return self.kbps * 1000.0 if self.vbr else super().bitrate

    def _make_tokens(self, codes, num_samples, sample_rate, extra=None):
        if self.vbr:  # the bits actually carried: the packets' bytes, not the zeros after them
            extra = {**(extra or {}), "payload_bits": int(np.asarray(codes)[0].sum()) * 8}
        return super()._make_tokens(codes, num_samples, sample_rate, extra)

    def _decode(self, codes: np.ndarray, num_samples: int, tokens) -> np.ndarray:
        """codes ``[bytes_per_packet, packets]`` -> float32 ``(samples,)`` at 16 kHz, with the
        encoder lookahead dropped from the start so it lines up with the input."""
        st = libopus().decoder(SAMPLE_RATE)
        try:
            pcm = _decode_packets(st, codes, self.vbr)
        finally:
            libopus().lib.opus_decoder_destroy(st)
        return pcm[self.lookahead : self.lookahead + num_samples]

    def open_stream(self) -> "OpusStream":
        """A streaming session: 20 ms packets as the audio arrives, the same packets as
        whole-file encoding (see `OpusStream`)."""
        return OpusStream(self)


def _decode_packets(st: ctypes.c_void_p, codes: np.ndarray, vbr: bool = False) -> np.ndarray:
    """codes (CBR ``[bytes_per_packet, packets]`` or VBR ``[1 + max_bytes, packets]``) through
    decoder ``st`` -> 20 ms of float32 per packet."""
    op = libopus()
    codes = np.asarray(codes)
    if vbr:
        lengths, packets = codes[0], np.ascontiguousarray(codes[1:].T, dtype=np.uint8)
    else:
        packets = np.ascontiguousarray(codes.T, dtype=np.uint8)
        lengths = np.full(len(packets), packets.shape[1])
    pcm = np.zeros(len(packets) * FRAME_SAMPLES, dtype=np.float32)
    frame_bytes = FRAME_SAMPLES * pcm.itemsize
    for i in range(len(packets)):
        ret = op.lib.opus_decode_float(
            st, packets[i].ctypes.data, int(lengths[i]), pcm.ctypes.data + i * frame_bytes, FRAME_SAMPLES, 0
        )
        if ret < 0:  # the codes are not Opus packets: the tokens are damaged, not the library
            raise TokensFileError(f"packet {i} is not a valid Opus packet ({op.lib.opus_strerror(ret).decode()})")
    return pcm


class OpusStream:
    """Streaming Opus: one encoder and one decoder kept across chunks.

    ``encode(chunk)`` returns the packets of the whole 20 ms frames so far; ``encode_flush()``
    codes the rest with the lookahead zeros whole-file encoding adds, so the concatenated
    packets equal `OpusTokenizer.encode` of the whole waveform. ``decode`` drops the encoder
    lookahead from the start of the output, so output sample i lines up with input sample i.
    """

    def __init__(self, tok: OpusTokenizer):
        self.tok = tok
        self.sample_rate = SAMPLE_RATE
        self._enc = tok._new_encoder()
        self._dec = libopus().decoder(SAMPLE_RATE)
        self._pending = np.zeros(0, dtype=np.float32)
        self._skip = tok.lookahead  # decoded samples still to drop from the start

    def encode(self, wav: np.ndarray) -> np.ndarray:
        """float32 ``(samples,)`` at 16 kHz, any length -> codes ``[bytes_per_packet, packets]``."""
        self._check_open()
        pcm = np.concatenate([self._pending, np.asarray(wav, dtype=np.float32)])
        n = len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES
        self._pending = pcm[n:]
        return self.tok._encode_packets(self._enc, pcm[:n])

    def encode_flush(self) -> np.ndarray:
        self._check_open()
        tail = np.concatenate([self._pending, np.zeros(self.tok.lookahead, dtype=np.float32)])
        tail = np.pad(tail, (0, -len(tail) % FRAME_SAMPLES))
        self._pending = np.zeros(0, dtype=np.float32)
        return self.tok._encode_packets(self._enc, tail)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """codes ``[bytes_per_packet, packets]`` -> float32 samples (20 ms a packet, less the lookahead)."""
        self._check_open()
        pcm = _decode_packets(self._dec, codes, self.tok.vbr)
        drop = min(self._skip, len(pcm))
        self._skip -= drop
        return pcm[drop:]

    def decode_flush(self) -> np.ndarray:
        return np.zeros(0, dtype=np.float32)

    def _check_open(self) -> None:
        if self._enc is None:  # a freed libopus state must never reach the C library
            raise RuntimeError("this Opus stream is closed")

    def close(self) -> None:
        lib = libopus().lib
        if self._enc is not None:
            lib.opus_encoder_destroy(self._enc)
            lib.opus_decoder_destroy(self._dec)
            self._enc = self._dec = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass


def names() -> list[str]:
    usual = [f"opus@{k}kbps" for k in USUAL_KBPS]
    wb = [f"opus@{k}kbps-wb" for k in USUAL_KBPS if k >= MIN_KBPS_FOR_BANDWIDTH["wb"]]
    return usual + wb + [f"opus@{k}kbps-vbr" for k in USUAL_KBPS]


def resolve(name: str) -> OpusTokenizer | None:
    m = _NAME.match(name)
    if not m:
        if name.startswith("opus@"):
            raise UnknownTokenizerError(
                f"{name!r}: Opus names look like opus@6kbps, opus@8kbps-wb (also -nb, -mb) or opus@6kbps-vbr"
            )
        return None
    return OpusTokenizer(float(m.group(1)), m.group(2), vbr=bool(m.group(3)))
