"""Uncompressed references: 16-bit linear PCM and 8-bit mu-law (G.711), as byte tokens.

``pcm16``: 16 kHz, each sample's two bytes are two codebooks of 256 (low byte, high byte),
256 kbps. ``mulaw``: 8 kHz, one mu-law byte per sample, 64 kbps (the telephone standard).
"""

from __future__ import annotations

import numpy as np

from .base import Tokenizer

MU = 255.0


def mulaw_encode(x: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 codes by continuous mu-law companding and 8-bit quantisation."""
    x = np.clip(x, -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    return np.clip(np.round((y + 1.0) * 127.5), 0, 255).astype(np.int64)


def mulaw_decode(codes: np.ndarray) -> np.ndarray:
    y = codes.astype(np.float64) / 127.5 - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU).astype(np.float32)


class PCM16Tokenizer(Tokenizer):
    name = "pcm16"
    version = "1"
    sample_rate = 16000
    frame_rate = 16000.0
    codebook_sizes = (256, 256)
    thread_safe = True  # pure numpy

    def _encode(self, wav):
        q = np.clip(np.round(wav * 32768.0), -32768, 32767).astype(np.int64) & 0xFFFF
        return np.stack([q & 0xFF, q >> 8])

    def _decode(self, codes, num_samples, tokens):
        u = (codes[0] | (codes[1] << 8)).astype(np.int64)
        return (np.where(u >= 32768, u - 65536, u) / 32768.0).astype(np.float32)


class MuLawTokenizer(Tokenizer):
    name = "mulaw"
    version = "1"
    sample_rate = 8000
    frame_rate = 8000.0
    codebook_sizes = (256,)
    thread_safe = True  # pure numpy

    def _encode(self, wav):
        return mulaw_encode(wav)[None, :]

    def _decode(self, codes, num_samples, tokens):
        return mulaw_decode(codes[0])


_BY_NAME = {"pcm16": PCM16Tokenizer, "mulaw": MuLawTokenizer}


def names() -> list[str]:
    return list(_BY_NAME)


def resolve(name: str):
    cls = _BY_NAME.get(name)
    return cls() if cls else None
