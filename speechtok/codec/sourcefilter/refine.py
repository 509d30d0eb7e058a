"""Layer 3: a small frame-rate network that corrects dequantized envelope/aperiodicity vectors.

Input: the dequantized vector of each frame, its pitch symbol (voicing and log-F0) and how many
envelope stages were used; output: a correction added to the vector. Trained with a mean-squared
error against the unquantized vectors (``speechtok.codec.sourcefilter.train``); the codec uses it
only when its config says ``refiner.enabled``, which training sets only when the refined
vectors measurably beat the plain ones on validation audio.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import RefinerConfig


class Refiner(nn.Module):
    def __init__(self, dim: int, pitch_levels: int, cfg: RefinerConfig, max_stages: int = 8):
        super().__init__()
        self.cfg = cfg
        self.pitch_levels = pitch_levels
        self.stage_emb = nn.Embedding(max_stages + 1, 16)
        c, k = cfg.channels, cfg.kernel_size
        self.inp = nn.Conv1d(dim + 2 + 16, c, 1)
        if cfg.lookahead < 0:  # centred kernels
            self.pads = None
            self.blocks = nn.ModuleList(nn.Conv1d(c, c, k, padding=k // 2) for _ in range(cfg.layers))
        else:  # taps t - k//2 .. t + r for each layer, sum of r = lookahead (at most one per layer)
            h = k // 2
            right = [min(1, h) if i < cfg.lookahead else 0 for i in range(cfg.layers)]
            self.pads = [(h, r) for r in right]
            self.blocks = nn.ModuleList(nn.Conv1d(c, c, h + 1 + r) for r in right)
        self.out = nn.Conv1d(c, dim, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # starts as the identity: never worse than no refiner at step 0

    @property
    def lookahead(self) -> int:
        """Frames of future context each output frame depends on."""
        if self.pads is not None:
            return sum(r for _, r in self.pads)
        return self.cfg.layers * (self.cfg.kernel_size // 2)

    @property
    def history(self) -> int:
        """Frames of past context each output frame depends on."""
        return self.cfg.layers * (self.cfg.kernel_size // 2)

    @classmethod
    def cut_from(cls, base: "Refiner", lookahead: int) -> "Refiner":
        """A refiner that looks at most ``lookahead`` frames ahead, started from ``base``'s
        weights with the future taps its kernels no longer have dropped (fine-tune it after)."""
        from dataclasses import replace

        new = cls(base.inp.in_channels - 2 - 16, base.pitch_levels, replace(base.cfg, lookahead=lookahead),
                  base.stage_emb.num_embeddings - 1)
        state = base.state_dict()
        for i, conv in enumerate(new.blocks):
            state[f"blocks.{i}.weight"] = state[f"blocks.{i}.weight"][..., : conv.kernel_size[0]]
        new.load_state_dict(state)
        return new

    def forward(self, feats: torch.Tensor, pitch: torch.Tensor, stages: torch.Tensor) -> torch.Tensor:
        """feats (B, T, D), pitch codes (B, T), stages (B,) -> corrected feats (B, T, D)."""
        voiced = (pitch > 0).float()
        logf0 = (pitch.float() - 1).clamp(min=0) / self.pitch_levels * voiced
        s = self.stage_emb(stages)[:, :, None].expand(-1, -1, feats.shape[1])
        h = self.inp(torch.cat([feats.transpose(1, 2), voiced[:, None], logf0[:, None], s], 1))
        for i, conv in enumerate(self.blocks):
            g = torch.nn.functional.gelu(h)
            h = h + conv(g if self.pads is None else torch.nn.functional.pad(g, self.pads[i]))
        return feats + self.out(torch.nn.functional.gelu(h)).transpose(1, 2)

    @torch.no_grad()
    def correct(self, feats: torch.Tensor, pitch: torch.Tensor, stages: int) -> torch.Tensor:
        """(T, D), (T,) -> (T, D) for one utterance."""
        return self.forward(feats[None], pitch[None], torch.tensor([stages]))[0]
