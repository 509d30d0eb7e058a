"""Discriminators for adversarial training: multi-period (HiFi-GAN) and multi-resolution STFT."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm


def _run_convs(x: torch.Tensor, convs: nn.ModuleList, post: nn.Module):
    """Conv stack with leaky ReLUs -> (flattened logits, every layer's output for feature matching)."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), 0.1)
        feats.append(x)
    x = post(x)
    feats.append(x)
    return x.flatten(1), feats


class PeriodDiscriminator(nn.Module):
    """Folds the waveform into (samples / period, period) and applies 2-D convs along time."""

    def __init__(self, period: int, channels: int = 32, max_channels: int = 512):
        super().__init__()
        self.period = period
        chans = [1, channels, channels * 4, channels * 16, max_channels]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3, 1), padding=(2, 0))) for i in range(4)
        )
        self.convs.append(weight_norm(nn.Conv2d(max_channels, max_channels, (5, 1), 1, padding=(2, 0))))
        self.post = weight_norm(nn.Conv2d(max_channels, 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, x: torch.Tensor):
        """x: (batch, samples) -> (logits, [feature maps])."""
        b, t = x.shape
        x = F.pad(x, (0, (-t) % self.period), mode="reflect")
        return _run_convs(x.view(b, 1, -1, self.period), self.convs, self.post)


class ResolutionDiscriminator(nn.Module):
    """2-D convs over a log-magnitude spectrogram at one STFT resolution."""

    def __init__(self, n_fft: int, hop: int, channels: int = 32):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, channels, (7, 5), (2, 2), padding=(3, 2))),
                weight_norm(nn.Conv2d(channels, channels, (5, 3), (2, 1), padding=(2, 1))),
                weight_norm(nn.Conv2d(channels, channels, (5, 3), (2, 2), padding=(2, 1))),
                weight_norm(nn.Conv2d(channels, channels, 3, (2, 1), padding=1)),
                weight_norm(nn.Conv2d(channels, channels, 3, (2, 2), padding=1)),
            ]
        )
        self.post = weight_norm(nn.Conv2d(channels, 1, 3, padding=1))

    def forward(self, x: torch.Tensor):
        spec = torch.stft(x.float(), self.n_fft, self.hop, window=self.window, return_complex=True)
        return _run_convs(torch.log(spec.abs().clamp_min(1e-5)).unsqueeze(1), self.convs, self.post)  # (batch, 1, freq, frames)


class Discriminators(nn.Module):
    """All discriminators; returns a list of (logits, features) per sub-discriminator."""

    def __init__(self, periods=(2, 3, 5, 7, 11), resolutions=((1024, 256), (512, 128), (256, 64))):
        super().__init__()
        self.subs = nn.ModuleList(
            [PeriodDiscriminator(p) for p in periods] + [ResolutionDiscriminator(n, h) for n, h in resolutions]
        )

    def forward(self, x: torch.Tensor):
        return [d(x) for d in self.subs]
