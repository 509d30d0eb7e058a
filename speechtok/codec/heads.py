"""Vocos-style inverse-STFT head: frames of features -> magnitude and phase -> waveform."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ISTFT(nn.Module):
    """Inverse STFT by overlap-add with a Hann window, "same" framing: F frames -> F × hop samples.

    Frame t is centred on sample ``t * hop + hop / 2``; the output is normalised by the summed
    squared window so that a perfect spectrum gives back the signal.
    """

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """spec: complex (batch, n_fft // 2 + 1, frames) -> (batch, frames × hop)."""
        frames = spec.shape[-1]
        x = torch.fft.irfft(spec, n=self.n_fft, dim=1) * self.window[None, :, None]
        out_len = (frames - 1) * self.hop + self.n_fft
        y = F.fold(x, (1, out_len), kernel_size=(1, self.n_fft), stride=(1, self.hop))[:, 0, 0]
        env = F.fold(
            (self.window**2)[None, :, None].expand(1, -1, frames), (1, out_len), (1, self.n_fft), stride=(1, self.hop)
        )[0, 0, 0]
        pad = (self.n_fft - self.hop) // 2
        return (y / env.clamp_min(1e-8))[:, pad : pad + frames * self.hop]

    def stream(self, spec: torch.Tensor, state: dict) -> torch.Tensor:
        """Streaming overlap-add. Samples before the start of the newest frame are final and are
        returned; the rest wait in ``state``. Concatenating every call's output and ``flush``
        gives what ``forward`` gives on the whole spectrogram."""
        st = state.setdefault(self, {"acc": None, "env": None, "frames": 0, "emitted": 0})
        b, m = spec.shape[0], spec.shape[-1]
        x = torch.fft.irfft(spec, n=self.n_fft, dim=1) * self.window[None, :, None]
        span = (m - 1) * self.hop + self.n_fft
        y = F.fold(x, (1, span), (1, self.n_fft), stride=(1, self.hop))[:, 0, 0]
        w = F.fold((self.window**2)[None, :, None].expand(1, -1, m), (1, span), (1, self.n_fft), stride=(1, self.hop))[0, 0, 0]
        # the buffer starts at padded position frames*hop; append and overlap-add the new frames
        if st["acc"] is None:
            st["acc"], st["env"] = y, w
        else:
            keep = st["acc"].shape[-1]
            acc = torch.zeros(b, max(keep, span), dtype=y.dtype, device=y.device)
            env = torch.zeros(max(keep, span), dtype=w.dtype, device=w.device)
            acc[:, :keep] += st["acc"]
            env[:keep] += st["env"]
            acc[:, :span] += y
            env[:span] += w
            st["acc"], st["env"] = acc, env
        st["frames"] += m
        return self._emit(st, ready=m * self.hop)

    def _emit(self, st: dict, ready: int) -> torch.Tensor:
        """Release the first ``ready`` buffered (padded-coordinate) samples, minus the left trim."""
        pad = (self.n_fft - self.hop) // 2
        out = st["acc"][:, :ready] / st["env"][:ready].clamp_min(1e-8)
        st["acc"], st["env"] = st["acc"][:, ready:], st["env"][ready:]
        start = st["emitted"]
        st["emitted"] += ready
        skip = max(0, pad - start)  # the first `pad` padded samples are not part of the output
        return out[:, skip:]

    def flush(self, state: dict) -> torch.Tensor:
        """The samples still held back at the end of the stream."""
        st = state.get(self)
        if st is None or st["acc"] is None:
            return self.window.new_zeros(1, 0)
        pad = (self.n_fft - self.hop) // 2
        end = pad + st["frames"] * self.hop  # forward() keeps frames × hop samples after the trim
        return self._emit(st, ready=max(0, end - st["emitted"]))


class ISTFTHead(nn.Module):
    def __init__(self, dim: int, n_fft: int, hop: int):
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = ISTFT(n_fft, hop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, frames, dim) -> waveform (batch, frames × hop)."""
        mag, phase = self.out(x).float().transpose(1, 2).chunk(2, dim=1)
        mag = torch.exp(mag).clamp(max=1e2)  # clamp guards early training against overflow
        return self.istft(torch.polar(mag, phase))

    def stream(self, x: torch.Tensor, state: dict) -> torch.Tensor:
        mag, phase = self.out(x).float().transpose(1, 2).chunk(2, dim=1)
        return self.istft.stream(torch.polar(torch.exp(mag).clamp(max=1e2), phase), state)
