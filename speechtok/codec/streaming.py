"""Chunked streaming encode/decode for causal codecs (``model.causal: true``).

Each causal layer keeps what it needs of the past in a state dict (the last ``kernel - stride``
inputs of a conv, the overlap of a transposed conv or of the iSTFT), so feeding audio in chunks
gives the whole-file result within float tolerance::

    stream = StreamingCodec(codec)
    codes = [stream.encode(chunk) for chunk in chunks] + [stream.encode_flush()]
    audio = [stream.decode(c) for c in codes] + [stream.decode_flush()]
"""

from __future__ import annotations

import numpy as np
import torch

from .model import Codec


class StreamingCodec:
    def __init__(self, codec: Codec, num_codebooks: int | None = None):
        if not codec.cfg.causal:
            raise RuntimeError("streaming needs a causal model (model.causal: true in its config)")
        self.codec = codec.eval()
        self.num_codebooks = num_codebooks
        self.enc_state: dict = {}
        self.dec_state: dict = {}
        self.pending: torch.Tensor | None = None  # samples short of a whole frame

    @property
    def codebooks(self) -> int:
        return self.num_codebooks or self.codec.quantizer.num_codebooks

    @torch.no_grad()
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """wav (batch, samples), any length -> codes (batch, K, frames) for the whole frames so far."""
        if self.pending is not None:
            wav = torch.cat([self.pending, wav], dim=-1)
        hop = self.codec.hop
        n = wav.shape[-1] // hop * hop
        self.pending = wav[:, n:]
        if n == 0:
            return torch.zeros(wav.shape[0], self.codebooks, 0, dtype=torch.long)
        latents = self.codec.encoder.stream(wav[:, :n], self.enc_state)
        return self.codec.quantizer.encode(latents, self.num_codebooks).transpose(1, 2)

    @torch.no_grad()
    def encode_flush(self) -> torch.Tensor:
        """The last, zero-padded frame (as whole-file encoding pads the end)."""
        if self.pending is None or self.pending.shape[-1] == 0:
            return torch.zeros(1, self.codebooks, 0, dtype=torch.long)
        last = torch.nn.functional.pad(self.pending, (0, self.codec.hop - self.pending.shape[-1]))
        self.pending = None
        return self.encode(last)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (batch, k, frames) -> the waveform samples that are final so far (batch, n)."""
        if codes.shape[-1] == 0:
            return torch.zeros(codes.shape[0], 0)
        latents = self.codec.quantizer.decode(codes.transpose(1, 2).long())
        return self.codec.decoder.stream(latents, self.dec_state)

    @torch.no_grad()
    def decode_flush(self) -> torch.Tensor:
        return self.codec.decoder.flush(self.dec_state)


class CausalCodecSession:
    """`StreamingCodec` (torch, batched) as a tokenizer's stream session (numpy, one stream):
    what ``CodecTokenizer.open_stream()`` returns for a causal model."""

    def __init__(self, codec: Codec, num_codebooks: int):
        self._stream = StreamingCodec(codec, num_codebooks)

    def encode(self, wav) -> np.ndarray:
        return self._stream.encode(torch.from_numpy(np.asarray(wav, dtype=np.float32))[None])[0].numpy()

    def encode_flush(self) -> np.ndarray:
        return self._stream.encode_flush()[0].numpy()

    def decode(self, codes) -> np.ndarray:
        return self._stream.decode(torch.from_numpy(np.asarray(codes, dtype=np.int64))[None])[0].numpy()

    def decode_flush(self) -> np.ndarray:
        return self._stream.decode_flush()[0].numpy()
