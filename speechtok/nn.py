"""Small torch building blocks shared by models in different layers (the TTS acoustic model, the
syllable decoder), kept here, below both, so that neither imports the other: a masked residual
convolution and the length regulator (token states repeated by their durations)."""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Module):
    """A masked residual 1-D convolution: ``LayerNorm(x + dropout(relu(conv(x * mask)))) * mask``
    over ``(batch, frames, d)``; ``mask`` ``(batch, frames, 1)`` is 1 on real frames."""

    def __init__(self, d: int, kernel: int, dilation: int = 1, dropout: float = 0.1):
        super().__init__()
        self.conv = nn.Conv1d(d, d, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.norm = nn.LayerNorm(d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask):  # x (B, T, d), mask (B, T, 1)
        y = self.conv((x * mask).transpose(1, 2)).transpose(1, 2)
        return self.norm(x + self.drop(torch.relu(y))) * mask


def expand(h: torch.Tensor, durations: torch.Tensor, max_frames: int | None = None) -> torch.Tensor:
    """The length regulator: (B, N, C) phone states repeated by (B, N) integer durations ->
    (B, T, C) frames (T = the longest total, or ``max_frames``), zeros after each sum."""
    B, N, C = h.shape
    d = durations.clamp(min=0).long()
    totals = d.sum(1)
    T = int(totals.max()) if max_frames is None else int(max_frames)
    T = max(T, 1)
    ends = d.cumsum(1)  # (B, N)
    frames = torch.arange(T).unsqueeze(0).expand(B, T).contiguous()
    idx = torch.searchsorted(ends, frames, right=True).clamp(max=N - 1)  # phone of each frame
    out = torch.gather(h, 1, idx.unsqueeze(-1).expand(B, T, C))
    mask = (frames < totals.unsqueeze(1)).unsqueeze(-1)
    return out * mask


def frame_positions(durations: torch.Tensor, T: int) -> torch.Tensor:
    """(B, N) durations -> (B, T, 2): each frame's position inside its phone (0..1) and its
    phone's length (log frames); what lets a convolutional decoder shape transitions."""
    B, N = durations.shape
    d = durations.clamp(min=0).long()
    ends = d.cumsum(1)
    starts = ends - d
    frames = torch.arange(T).unsqueeze(0).expand(B, T).contiguous()
    idx = torch.searchsorted(ends, frames, right=True).clamp(max=N - 1)
    start = torch.gather(starts, 1, idx).float()
    length = torch.gather(d, 1, idx).float().clamp(min=1)
    pos = (frames.float() - start + 0.5) / length
    return torch.stack([pos.clamp(0, 1), torch.log(length)], -1)
