"""Waveform -> latent frames: a strided patch conv, ConvNeXt stages, learned strided downsampling."""

from __future__ import annotations

import torch
from torch import nn

from .config import EncoderConfig
from .modules import ConvNeXtBlock, PaddedConv1d, apply_mask, frame_mask


class Encoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, causal: bool = False):
        super().__init__()
        self.cfg = cfg
        self.stem = PaddedConv1d(1, cfg.dims[0], 2 * cfg.patch, stride=cfg.patch, causal=causal)
        self.stages = nn.ModuleList()
        self.downsamples = nn.ModuleList()
        for i, dim in enumerate(cfg.dims):
            self.stages.append(
                nn.ModuleList(
                    ConvNeXtBlock(dim, 3 * dim, cfg.kernel_size, causal=causal) for _ in range(cfg.blocks_per_stage)
                )
            )
            if i < len(cfg.strides):
                s = cfg.strides[i]
                self.downsamples.append(PaddedConv1d(dim, cfg.dims[i + 1], 2 * s, stride=s, causal=causal))
        self.norm = nn.LayerNorm(cfg.dims[-1], eps=1e-6)
        self.proj = nn.Linear(cfg.dims[-1], cfg.latent_dim)

    @property
    def hop(self) -> int:
        h = self.cfg.patch
        for s in self.cfg.strides:
            h *= s
        return h

    def forward(self, wav: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """wav: (batch, samples), samples a multiple of ``hop``; lengths: (batch,) valid samples.
        Returns latents (batch, frames, latent_dim) with frames = samples / hop."""
        x = self.stem(wav.unsqueeze(1))
        stride = self.cfg.patch
        x = apply_mask(x, frame_mask(lengths, x.shape[-1], stride))
        for i, blocks in enumerate(self.stages):
            mask = frame_mask(lengths, x.shape[-1], stride)
            for block in blocks:
                x = apply_mask(block(x), mask)
            if i < len(self.downsamples):
                x = self.downsamples[i](x)
                stride *= self.cfg.strides[i]
                x = apply_mask(x, frame_mask(lengths, x.shape[-1], stride))
        return self.proj(self.norm(x.transpose(1, 2)))

    def stream(self, wav: torch.Tensor, state: dict) -> torch.Tensor:
        """Causal streaming: wav (batch, n) with n a multiple of ``hop`` -> (batch, n / hop, latent_dim)."""
        x = self.stem.stream(wav.unsqueeze(1), state)
        for i, blocks in enumerate(self.stages):
            for block in blocks:
                x = block(x, state)
            if i < len(self.downsamples):
                x = self.downsamples[i].stream(x, state)
        return self.proj(self.norm(x.transpose(1, 2)))
