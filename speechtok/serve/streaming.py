"""The streaming interface the WebSocket endpoint is written against, and how a tokenizer gets one.

A tokenizer that can stream offers ``open_stream()``, returning a session with four methods on
numpy arrays (the shape of `speechtok.codec.streaming.StreamingCodec`, without torch)::

    session.encode(wav)       # float32 (samples,) at tok.sample_rate, any length -> codes [K, frames]
    session.encode_flush()    # the last, padded frame(s) -> codes [K, frames]
    session.decode(codes)     # codes [K, frames] -> float32 samples that are final so far
    session.decode_flush()    # the samples still held back -> float32 (samples,)

Concatenated, the codes equal whole-file encoding and the audio equals whole-file decoding (up
to its trim to the input length). Our causal codec (``model.causal: true``) is adapted here
without an ``open_stream`` of its own; Opus has one (`speechtok.tokenizers.opus.OpusStream`).
Any new tokenizer streams in the service by adding ``open_stream()``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..errors import SpeechtokError


class StreamSession(Protocol):
    def encode(self, wav: np.ndarray) -> np.ndarray: ...

    def encode_flush(self) -> np.ndarray: ...

    def decode(self, codes: np.ndarray) -> np.ndarray: ...

    def decode_flush(self) -> np.ndarray: ...


class StreamingUnsupported(SpeechtokError):
    """The tokenizer has no streaming mode (not causal, or not frame by frame)."""


class CausalCodecSession:
    """`StreamingCodec` (torch, batched) as a `StreamSession` (numpy, one stream)."""

    def __init__(self, codec, num_codebooks: int):
        from ..codec.streaming import StreamingCodec

        self._stream = StreamingCodec(codec, num_codebooks)

    def encode(self, wav: np.ndarray) -> np.ndarray:
        import torch

        return self._stream.encode(torch.from_numpy(np.asarray(wav, dtype=np.float32))[None])[0].numpy()

    def encode_flush(self) -> np.ndarray:
        return self._stream.encode_flush()[0].numpy()

    def decode(self, codes: np.ndarray) -> np.ndarray:
        import torch

        return self._stream.decode(torch.from_numpy(np.asarray(codes, dtype=np.int64))[None])[0].numpy()

    def decode_flush(self) -> np.ndarray:
        return self._stream.decode_flush()[0].numpy()


def _causal_codec(tok):
    """The causal `Codec` inside a tokenizer, or None."""
    codec = getattr(tok, "codec", None)
    cfg = getattr(codec, "cfg", None)
    return codec if getattr(cfg, "causal", False) else None


def can_stream(tok) -> bool:
    return callable(getattr(tok, "open_stream", None)) or _causal_codec(tok) is not None


def open_stream(tok) -> StreamSession:
    """A new streaming session of ``tok``; raises StreamingUnsupported saying why not."""
    if callable(getattr(tok, "open_stream", None)):
        return tok.open_stream()
    codec = _causal_codec(tok)
    if codec is not None:
        return CausalCodecSession(codec, tok.num_codebooks)
    raise StreamingUnsupported(
        f"{tok.name} cannot stream: streaming needs a causal codec (model.causal: true) or a "
        f"frame-by-frame codec such as opus"
    )
