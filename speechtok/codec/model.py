"""The codec: encoder -> quantizer -> decoder, with the switches in `CodecConfig`."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import CodecConfig
from .decoder import Decoder
from .encoder import Encoder
from .quantizer import Quantizer


class Codec(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = Encoder(cfg.encoder, causal=cfg.causal)
        self.quantizer = Quantizer(cfg.quantizer, cfg.encoder.latent_dim)
        self.decoder = Decoder(cfg.decoder, cfg.encoder.latent_dim, cfg.hop, causal=cfg.causal)

    @property
    def hop(self) -> int:
        return self.cfg.hop

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return self.quantizer.codebook_sizes

    def pad(self, wav: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> (batch, samples rounded up to a multiple of hop), zero-padded."""
        return F.pad(wav, (0, (-wav.shape[-1]) % self.hop))

    def forward(self, wav: torch.Tensor):
        """Training pass. wav: (batch, samples), samples a multiple of hop.
        Returns (reconstruction (batch, samples), codes (batch, frames, K), commitment loss, latents)."""
        latents = self.encoder(wav)
        q, codes, commit = self.quantizer(latents)
        return self.decoder(q), codes, commit, latents

    @torch.no_grad()
    def encode(self, wav: torch.Tensor, lengths: torch.Tensor | None = None, num_codebooks: int | None = None):
        """wav: (batch, samples) zero-padded; lengths: (batch,) valid samples of each item.
        Returns codes (batch, K, frames); item i's valid frames are ceil(lengths[i] / hop)."""
        wav = self.pad(wav)
        if lengths is not None:  # round up: a lone item is padded to a multiple of hop too
            lengths = (lengths + self.hop - 1) // self.hop * self.hop
        latents = self.encoder(wav, lengths)
        return self.quantizer.encode(latents, num_codebooks).transpose(1, 2)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes: (batch, k, frames), the first k codebooks -> waveform (batch, frames × hop)."""
        return self.decoder(self.quantizer.decode(codes.transpose(1, 2).long()))
