"""The streaming interface the WebSocket endpoint is written against, and how a tokenizer gets one.

A tokenizer that can stream offers ``open_stream()``, returning a session with four methods on
numpy arrays (the shape of `speechtok.codec.streaming.StreamingCodec`, without torch)::

    session.encode(wav)       # float32 (samples,) at tok.sample_rate, any length -> codes [K, frames]
    session.encode_flush()    # the last, padded frame(s) -> codes [K, frames]
    session.decode(codes)     # codes [K, frames] -> float32 samples that are final so far
    session.decode_flush()    # the samples still held back -> float32 (samples,)

Concatenated, the codes equal whole-file encoding and the audio equals whole-file decoding (up
to its trim to the input length). Streaming is part of the `Tokenizer` interface: ``can_stream``
says whether ``open_stream()`` gives a session, and ``open_stream()`` of one that cannot raises
StreamingUnsupported saying why (our causal codec: `speechtok.codec.streaming.CausalCodecSession`;
the source-filter models: `speechtok.codec.sourcefilter.streaming`; Opus:
`speechtok.tokenizers.opus.OpusStream`). Any new tokenizer streams in the service by defining
``open_stream()``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..errors import StreamingUnsupported  # noqa: F401  (raised by open_stream; its old home)


class StreamSession(Protocol):
    def encode(self, wav: np.ndarray) -> np.ndarray: ...

    def encode_flush(self) -> np.ndarray: ...

    def decode(self, codes: np.ndarray) -> np.ndarray: ...

    def decode_flush(self) -> np.ndarray: ...


def can_stream(tok) -> bool:
    """Whether ``tok`` streams (``Tokenizer.can_stream``)."""
    return tok.can_stream


def open_stream(tok) -> StreamSession:
    """A new streaming session of ``tok``; raises StreamingUnsupported saying why not."""
    return tok.open_stream()
