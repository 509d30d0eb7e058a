"""Reconstruction and adversarial losses."""

from __future__ import annotations

import torch
from torch import nn

from ..dsp import mel_filterbank


class MelSpectrogram(nn.Module):
    """(batch, samples) -> log10 mel magnitude (batch, n_mels, frames)."""

    def __init__(self, sample_rate: int, n_fft: int, hop: int, n_mels: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("fb", torch.from_numpy(mel_filterbank(sample_rate, n_fft, n_mels)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x.float(), self.n_fft, self.hop, window=self.window, return_complex=True).abs()
        return torch.log10((self.fb @ spec).clamp_min(1e-5))


class MultiResolutionMelLoss(nn.Module):
    """Mean L1 distance of log-mel spectrograms at several resolutions (DAC-style)."""

    def __init__(self, sample_rate: int = 16000, resolutions=((2048, 512, 80), (1024, 256, 64), (512, 128, 40), (256, 64, 20))):
        super().__init__()
        self.mels = nn.ModuleList(MelSpectrogram(sample_rate, n, h, m) for n, h, m in resolutions)

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sum((m(y_hat) - m(y)).abs().mean() for m in self.mels) / len(self.mels)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence + log-magnitude L1 at several resolutions (Parallel WaveGAN)."""

    def __init__(self, resolutions=((1024, 256), (512, 128), (256, 64))):
        super().__init__()
        self.resolutions = resolutions
        for n, _ in resolutions:
            self.register_buffer(f"w{n}", torch.hann_window(n), persistent=False)

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for n, h in self.resolutions:
            w = getattr(self, f"w{n}")
            a = torch.stft(y_hat.float(), n, h, window=w, return_complex=True).abs().clamp_min(1e-7)
            b = torch.stft(y.float(), n, h, window=w, return_complex=True).abs().clamp_min(1e-7)
            sc = torch.linalg.norm(b - a) / torch.linalg.norm(b).clamp_min(1e-7)
            total = total + sc + (a.log() - b.log()).abs().mean()
        return total / len(self.resolutions)


def discriminator_loss(real_outs, fake_outs) -> torch.Tensor:
    """Least-squares GAN: real -> 1, fake -> 0."""
    loss = 0.0
    for (real, _), (fake, _) in zip(real_outs, fake_outs):
        loss = loss + ((1 - real) ** 2).mean() + (fake**2).mean()
    return loss / len(real_outs)


def generator_loss(fake_outs) -> torch.Tensor:
    return sum(((1 - fake) ** 2).mean() for fake, _ in fake_outs) / len(fake_outs)


def feature_matching_loss(real_outs, fake_outs) -> torch.Tensor:
    loss, n = 0.0, 0
    for (_, real_feats), (_, fake_feats) in zip(real_outs, fake_outs):
        for r, f in zip(real_feats, fake_feats):
            loss = loss + (r.detach() - f).abs().mean() / (r.detach().abs().mean() + 1e-5)
            n += 1
    return loss / n
