"""A pulse-plus-noise source-filter synthesizer, streamable, phase-continuous, vectorised.

The waveform is built in blocks of ``hop`` samples (5 ms). Each block gets

* a voiced excitation: band-limited pulses at the epochs where the running F0 phase crosses a
  whole period (windowed-sinc kernels at fractional positions), scaled so that the pulse train has
  unit power whatever the F0;
* an unvoiced excitation: white noise of unit power, a fixed function of the absolute sample
  index (so chunked synthesis equals whole-file synthesis);

each filtered by that block's minimum-phase response (the envelope times sqrt(1 - a^2) for the
pulses, times a for the noise, a = aperiodicity), and overlap-added. Everything the next block
needs (F0 phase, the overlap tail, the block counter) lives in a small state, so any split of
the parameter frames into chunks gives the same samples as one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from .envelope import from_cepstrum

_KERNEL_HALF = 8  # windowed-sinc half length (samples) of one band-limited pulse
_NOISE_BLOCK = 4096  # noise is generated in blocks of this many samples, seeded by block index


def _log_min_phase(log_amp: torch.Tensor, n_fft: int) -> torch.Tensor:
    """(frames, n_fft//2+1) natural-log amplitude -> the complex log of its minimum-phase
    spectrum: the real cepstrum, folded onto positive quefrencies, back to frequency."""
    cep = torch.fft.irfft(log_amp, n=n_fft, dim=-1)
    half = n_fft // 2
    fold = torch.zeros_like(cep)
    fold[:, 0] = cep[:, 0]
    fold[:, 1:half] = 2 * cep[:, 1:half]
    fold[:, half] = cep[:, half]
    return torch.fft.rfft(fold, dim=-1)


def min_phase(log_amp: torch.Tensor, n_fft: int) -> torch.Tensor:
    """(frames, n_fft//2+1) natural-log amplitude -> complex minimum-phase spectra (same shape)."""
    c = _log_min_phase(log_amp, n_fft)
    return torch.polar(torch.exp(c.real), c.imag)  # exp of a complex tensor, without torch's slow complex exp


@lru_cache(maxsize=8)
def _cep_min_phase(order: int, alpha: float, n_fft: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(order, n_fft//2+1) x 2: warped cepstrum -> real and imaginary parts of the log of the
    minimum-phase spectrum whose amplitude that cepstrum describes. Every step of
    ``_log_min_phase`` is linear, so applied to the identity it gives two small matrices."""
    log_amp = torch.from_numpy(from_cepstrum(np.eye(order, dtype=np.float32), n_fft // 2 + 1, alpha)).double()
    c = _log_min_phase(log_amp, n_fft)
    return c.real.float().contiguous(), c.imag.float().contiguous()


def min_phase_from_cepstrum(cep: np.ndarray, alpha: float, n_fft: int, gain: float = 0.0) -> torch.Tensor:
    """(frames, order) warped cepstrum (+ ``gain`` nepers) -> complex minimum-phase spectra
    (frames, n_fft//2+1); equal to ``min_phase(from_cepstrum(cep) + gain)`` at a fraction of the cost."""
    re_m, im_m = _cep_min_phase(cep.shape[-1], alpha, n_fft)
    c = torch.from_numpy(np.ascontiguousarray(cep, np.float32))
    mag, ph = torch.exp(c @ re_m + gain), c @ im_m
    return torch.complex(mag * torch.cos(ph), mag * torch.sin(ph))  # 3x faster than torch.polar


@dataclass
class SynthState:
    phase: float = 0.0  # F0 phase in periods, carried across blocks
    block: int = 0  # index of the next block (absolute: sets the noise)
    tail: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # overlap not yet final
    pulse_tail: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # kernels spilling forward


class Synthesizer:
    """Blocks of parameters -> waveform. ``sample_rate`` 16 kHz, ``hop`` 80 (5 ms), ``n_fft`` 1024."""

    def __init__(self, sample_rate: int = 16000, hop: int = 80, n_fft: int = 1024, seed: int = 1234):
        self.sample_rate, self.hop, self.n_fft, self.seed = sample_rate, hop, n_fft, seed
        self._noise_cache: dict[int, np.ndarray] = {}

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    # -- excitation -----------------------------------------------------------------------
    def _noise(self, start: int, n: int) -> np.ndarray:
        out = np.empty(n, np.float32)
        pos = 0
        while pos < n:
            b, off = divmod(start + pos, _NOISE_BLOCK)
            block = self._noise_cache.get(b)
            if block is None:
                block = np.random.default_rng((self.seed, b)).standard_normal(_NOISE_BLOCK).astype(np.float32)
                if len(self._noise_cache) > 64:
                    self._noise_cache.clear()
                self._noise_cache[b] = block
            take = min(n - pos, _NOISE_BLOCK - off)
            out[pos : pos + take] = block[off : off + take]
            pos += take
        return out

    def _pulses(self, f0: np.ndarray, state: SynthState) -> np.ndarray:
        """Per-sample F0 (Hz, 0 = unvoiced) -> band-limited pulse train of unit power, with the
        kernels' forward spill kept in ``state.pulse_tail``."""
        n = len(f0)
        inc = f0 / self.sample_rate
        phase = state.phase + np.cumsum(inc)
        # an epoch where the phase passes an integer, on a voiced sample
        k_before = np.floor(np.concatenate([[state.phase], phase[:-1]]))
        k_after = np.floor(phase)
        idx = np.nonzero((k_after > k_before) & (f0 > 0))[0]
        # fractional position: the crossing lies inside sample idx-1 .. idx
        frac = (phase[idx] - k_after[idx]) / np.maximum(inc[idx], 1e-9)  # samples after the crossing
        pos = idx - frac
        amp = np.sqrt(self.sample_rate / f0[idx])  # unit mean power for any F0
        state.phase = float(phase[-1] - np.floor(phase[-1])) if n else state.phase
        # each kernel is centred _KERNEL_HALF samples after its epoch (a fixed 0.5 ms delay of the
        # voiced part), so it never reaches back into samples an earlier chunk has returned
        out = np.zeros(n + 2 * _KERNEL_HALF + 2, np.float32)
        taps = np.arange(0, 2 * _KERNEL_HALF + 1)
        base = np.ceil(pos).astype(np.int64)
        t = base[:, None] + taps[None, :]
        d = t - pos[:, None] - _KERNEL_HALF
        kernel = np.sinc(d * 0.95) * 0.95 * (0.5 + 0.5 * np.cos(np.pi * d / (_KERNEL_HALF + 1)))
        np.add.at(out, t.ravel(), (kernel * amp[:, None]).ravel().astype(np.float32))
        spill = state.pulse_tail
        out[: len(spill)] += spill
        state.pulse_tail = out[n:].copy()
        return out[:n]

    # -- the synthesizer ------------------------------------------------------------------
    def render(
        self,
        f0: np.ndarray,
        log_env: np.ndarray,
        aperiodicity: np.ndarray,
        state: SynthState | None = None,
        final: bool = True,
    ) -> np.ndarray:
        """Per-block controls -> waveform.

        f0 (blocks,) Hz, 0 = unvoiced; log_env (blocks, n_bins) natural-log amplitude of the
        envelope; aperiodicity (blocks, n_bins) in [0, 1]. Returns ``blocks * hop`` samples (plus
        the filter tail when ``final``) and updates ``state`` for the next chunk.
        """
        h = min_phase(torch.from_numpy(np.asarray(log_env, np.float32)), self.n_fft)
        return self.render_filters(f0, h, aperiodicity, state, final)

    def render_filters(
        self,
        f0: np.ndarray,
        h: torch.Tensor,
        aperiodicity: np.ndarray,
        state: SynthState | None = None,
        final: bool = True,
    ) -> np.ndarray:
        """``render`` with the envelope given as complex minimum-phase spectra (blocks, n_bins)."""
        state = state or SynthState()
        J, hop = len(f0), self.hop
        if J == 0:
            return self.flush(state) if final else np.zeros(0, np.float32)
        f0s = np.repeat(np.asarray(f0, np.float64), hop)
        pulses = self._pulses(f0s, state)
        noise = self._noise(state.block * hop, J * hop)
        voiced = (np.asarray(f0) > 0)[:, None]
        ap = torch.from_numpy(np.where(voiced, np.clip(aperiodicity, 0.0, 1.0), 1.0).astype(np.float32))
        n = self.n_fft
        # float32 FFTs in torch: several times faster than numpy's float64 ones
        ex = torch.zeros(2, J, n)
        ex[0, :, :hop] = torch.from_numpy(pulses.reshape(J, hop))
        ex[1, :, :hop] = torch.from_numpy(noise.reshape(J, hop))
        spec = torch.fft.rfft(ex, dim=-1)
        y = torch.fft.irfft((spec[0] * torch.sqrt(1.0 - ap * ap) + spec[1] * ap) * h, n=n, dim=-1).numpy()
        # overlap-add blocks at hop spacing
        width = -(-n // hop) * hop
        y = np.pad(y, ((0, 0), (0, width - n)))
        out = np.zeros((J - 1) * hop + width, np.float32)
        for s in range(0, width, hop):  # block j's samples s..s+hop land at j*hop+s: one contiguous add per slab
            out[s : s + J * hop] += y[:, s : s + hop].reshape(-1)
        tail = state.tail
        out[: len(tail)] += tail
        state.block += J
        done = J * hop
        state.tail = out[done:].copy()
        out = out[:done]
        if final:
            out = np.concatenate([out, self.flush(state)])
        return out

    def flush(self, state: SynthState) -> np.ndarray:
        tail, state.tail = state.tail, np.zeros(0, np.float32)
        return tail
