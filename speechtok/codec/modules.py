"""Building blocks shared by the encoder and decoder.

Every convolution knows whether it is causal (left padding only) so the same code builds the
offline and the streaming model. Tensors are channel-first: ``(batch, channels, frames)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class PaddedConv1d(nn.Conv1d):
    """Conv1d whose output has ``ceil(frames / stride)`` frames for any input length.

    Non-causal: the ``kernel - stride`` padding is split between both sides. Causal: it all
    goes on the left, so output frame t depends on inputs up to ``(t + 1) * stride - 1`` only.
    """

    def __init__(self, *args, causal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.causal = causal
        total = (self.kernel_size[0] - 1) * self.dilation[0] + 1 - self.stride[0]
        self.pad_left = total if causal else total // 2
        self.pad_right = 0 if causal else total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stride = self.stride[0]
        extra = (-x.shape[-1]) % stride  # complete the last stride with zeros
        return super().forward(F.pad(x, (self.pad_left, self.pad_right + extra)))

    def stream(self, x: torch.Tensor, state: dict) -> torch.Tensor:
        """Causal streaming: x (batch, channels, n), n a multiple of the stride. The last
        ``kernel - stride`` inputs are kept in ``state`` (zeros at the start, as the padding)."""
        if not self.causal:
            raise RuntimeError("streaming needs a causal model (model.causal: true)")
        past = state.get(self)
        if past is None:
            past = x.new_zeros(x.shape[0], x.shape[1], self.pad_left)
        full = torch.cat([past, x], dim=-1)
        state[self] = full[..., full.shape[-1] - self.pad_left :]
        return F.conv1d(full, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvNeXtBlock(nn.Module):
    """Depthwise conv → LayerNorm → pointwise MLP (GELU) → layer scale, with a residual."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int = 7, causal: bool = False):
        super().__init__()
        self.dwconv = PaddedConv1d(dim, dim, kernel_size, groups=dim, causal=causal)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1.0 / 8))

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """x: (batch, dim, frames) -> same shape. With ``state``: causal streaming."""
        y = (self.dwconv(x) if state is None else self.dwconv.stream(x, state)).transpose(1, 2)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


def frame_mask(lengths: torch.Tensor | None, frames: int, stride: int) -> torch.Tensor | None:
    """(batch,) valid sample counts -> (batch, 1, frames) mask of frames at ``stride`` samples each.

    Zeroing activations beyond each item's own length after every layer makes a padded batch see
    exactly the zeros that single-item conv padding would: padding cannot leak into the tokens.
    """
    if lengths is None:
        return None
    valid = torch.div(lengths + stride - 1, stride, rounding_mode="floor")
    return (torch.arange(frames, device=lengths.device)[None, :] < valid[:, None]).unsqueeze(1)


def apply_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x * mask
