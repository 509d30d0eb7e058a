"""Latent frames -> waveform: upsample to the iSTFT hop, ConvNeXt backbone, iSTFT head."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .config import DecoderConfig
from .heads import ISTFTHead
from .modules import ConvNeXtBlock, PaddedConv1d


class Upsample(nn.Module):
    """(batch, in_dim, frames) -> (batch, out_dim, frames × factor)."""

    def __init__(self, in_dim: int, out_dim: int, factor: int, mode: str, causal: bool):
        super().__init__()
        self.factor, self.mode = factor, mode
        if factor == 1 or mode == "repeat":
            self.conv = PaddedConv1d(in_dim, out_dim, 7, causal=causal)
        elif mode == "transposed":
            self.conv = nn.ConvTranspose1d(in_dim, out_dim, 2 * factor, stride=factor)
        else:
            raise ValueError(f"decoder.upsample must be 'transposed' or 'repeat', not {mode!r}")
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor == 1 or self.mode == "repeat":
            return self.conv(x.repeat_interleave(self.factor, dim=-1))
        y = self.conv(x)  # length (frames + 1) × factor; trim to frames × factor
        n = x.shape[-1] * self.factor
        start = 0 if self.causal else self.factor // 2
        return y[..., start : start + n]

    def stream(self, x: torch.Tensor, state: dict) -> torch.Tensor:
        """Causal streaming. Transposed conv: each chunk's last ``factor`` outputs overlap the next
        chunk's first ones, so they wait in ``state`` (without bias, which is added once)."""
        if self.factor == 1 or self.mode == "repeat":
            return self.conv.stream(x.repeat_interleave(self.factor, dim=-1), state)
        y = F.conv_transpose1d(x, self.conv.weight, None, self.factor)
        tail = state.get(self)
        if tail is not None:
            y[..., : self.factor] += tail
        n = x.shape[-1] * self.factor
        state[self] = y[..., n:]
        return y[..., :n] + self.conv.bias[None, :, None]


class Decoder(nn.Module):
    def __init__(self, cfg: DecoderConfig, latent_dim: int, frame_hop: int, causal: bool = False):
        super().__init__()
        self.cfg = cfg
        self.upsample = Upsample(latent_dim, cfg.dim, frame_hop // cfg.hop, cfg.upsample, causal)
        self.norm_in = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(cfg.dim, cfg.intermediate_dim, cfg.kernel_size, causal=causal) for _ in range(cfg.num_blocks)
        )
        self.norm_out = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = ISTFTHead(cfg.dim, cfg.n_fft, cfg.hop)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """latents: (batch, frames, latent_dim) -> waveform (batch, frames × frame_hop)."""
        x = self.upsample(latents.transpose(1, 2))
        x = self.norm_in(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm_out(x.transpose(1, 2)))

    def stream(self, latents: torch.Tensor, state: dict) -> torch.Tensor:
        """Causal streaming: (batch, frames, latent_dim) -> the waveform samples that are final
        so far (the iSTFT overlap holds back ``(n_fft - hop) / 2`` of them until more frames come)."""
        x = self.upsample.stream(latents.transpose(1, 2), state)
        x = self.norm_in(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x, state)
        return self.head.stream(self.norm_out(x.transpose(1, 2)), state)

    def flush(self, state: dict) -> torch.Tensor:
        return self.head.istft.flush(state)
