"""Syllable tokens -> speech: a non-autoregressive unit-to-frame generator and the codec's synthesis.

The TTS acoustic model's frame generator (``tts/model.py``) with syllable units in place of
phones and no duration predictor: each syllable's ``[content, duration, pitch]`` codes are
embedded (plus the pitch code's log-F0 and the duration code's log-length as numbers), a speaker
embedding is added, two convolutions over syllables give context, and every syllable is repeated
for the frames its **duration code** gives (``syllable_frames``: the code's value in frames at
50 Hz, the cumulative ends rescaled so the total equals the audio length the tokens carry).
A frame decoder of dilated residual convolutions, fed each frame's relative position inside its
syllable and the syllable's log-length, predicts the frame targets of the ``speechtok-fast``
source-filter codec: its envelope/aperiodicity features, log-F0 (interpolated through unvoiced
frames) and a voicing logit, all standardized (``tts.data.frame_targets``, the TTS voices'
targets); the codec renders them (``SourceFilterCodec.unfeatures`` + ``render``).

Training (``train_decoder.py``) time-warps each syllable's real frames onto the frames its
quantized duration gives, so training and decoding expand the same way. The shipped weights are
``speechtok/assets/syllables/decoder_k1024.{safetensors,json}`` (TRAINING.md).

This module sits with the tokenizer families (``tests/test_layers.py``): its convolution block
and length regulator come from ``speechtok.nn``, which the TTS model shares.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import SpeechtokError
from ..nn import ConvBlock, frame_positions
from ..nn import expand as regulate
from .codes import DUR_LEVELS, F0_LEVELS, decoder_paths, duration_value, pitch_value

CODEC = "speechtok-fast"
FRAME_RATE = 50.0  # speechtok-fast's frames
HOP = 320  # samples per frame at 16 kHz
LF0_CENTRE, LF0_SCALE = math.log(150.0), 0.5  # the pitch code's log-F0 as a number input


def num_frames(num_samples: int) -> int:
    """Codec frames of ``num_samples`` at 16 kHz (``ceil``, as the codec's analysis gives)."""
    return max(1, -(-int(num_samples) // HOP))


def syllable_frames(dur_codes, total_frames: int | None = None) -> np.ndarray:
    """(n,) duration codes -> (n,) integer frames per token: the codes' values at 50 Hz, their
    cumulative ends rescaled to ``total_frames`` (None: not rescaled) and rounded, so rounding
    never accumulates. A token may get 0 frames."""
    d = duration_value(np.asarray(dur_codes, np.int64))
    if not len(d):
        return np.zeros(0, np.int64)
    ends = np.cumsum(d) * FRAME_RATE
    if total_frames is not None:
        ends = ends * (total_frames / ends[-1])
    b = np.round(ends).astype(np.int64)
    return np.diff(np.concatenate([[0], b]))


def warp_targets(frames: np.ndarray, spans, durations: np.ndarray) -> np.ndarray:
    """(T, D) real frame targets, each token's real ``(start, end, ...)`` seconds, (n,) frames
    per token (``syllable_frames``) -> (sum(durations), D): each token's frames linearly resampled
    onto its quantized length (what training fits, so it matches how decoding expands)."""
    T = len(frames)
    pos = []
    for (a, b, *_), n in zip(spans, durations):
        if n > 0:
            t = a + (np.arange(n) + 0.5) / n * (b - a)  # seconds: centres of the new frames
            pos.append(t * FRAME_RATE - 0.5)  # frame k's centre is at (k + 0.5) / 50 s
    if not pos:
        return np.zeros((0, frames.shape[1]), np.float32)
    x = np.clip(np.concatenate(pos), 0, T - 1)
    lo = np.floor(x).astype(np.int64)
    hi = np.minimum(lo + 1, T - 1)
    w = (x - lo)[:, None]
    return ((1 - w) * frames[lo] + w * frames[hi]).astype(np.float32)


# ---- the network -----------------------------------------------------------------------------
def expand(h: torch.Tensor, durations: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The length regulator: (B, N, C) token states, (B, N) frames each -> (B, T, C) frames (zeros
    after each total) and (B, T, 2) each frame's relative position in its token (0..1) and the
    token's log-length (zeros after each total)."""
    mask = (torch.arange(T)[None, :] < durations.clamp(min=0).long().sum(1, keepdim=True)).unsqueeze(-1)
    return regulate(h, durations, T), frame_positions(durations, T) * mask


class SyllableDecoder(nn.Module):
    def __init__(self, n_content: int, n_speakers: int, out_dim: int, hidden: int = 128, token_layers: int = 2,
                 frame_layers: int = 6, kernel: int = 5, dropout: float = 0.1, token_dropout: float = 0.0):
        super().__init__()
        d = hidden
        self.token_dropout = token_dropout  # training: a syllable's content embedding is dropped with this chance
        self.content = nn.Embedding(n_content, d)
        self.duration = nn.Embedding(DUR_LEVELS, d)
        self.pitch = nn.Embedding(F0_LEVELS + 1, d)
        self.numbers = nn.Linear(3, d)  # log-F0, voiced, log-duration of the codes' values
        self.speaker = nn.Embedding(max(1, n_speakers), d)
        self.tok = nn.ModuleList([ConvBlock(d, 3, dropout=dropout) for _ in range(token_layers)])
        self.frame_in = nn.Linear(d + 3, d)
        dil = [1, 2, 4, 8, 1, 2, 4, 8]
        self.dec = nn.ModuleList([ConvBlock(d, kernel, dil[i % len(dil)], dropout) for i in range(frame_layers)])
        self.out = nn.Linear(d, out_dim)

    def forward(self, codes: torch.Tensor, speakers: torch.Tensor, durations: torch.Tensor, T: int | None = None):
        """(B, 3, N) codes, (B,) speaker ids, (B, N) frames per token (0 after a row's end) ->
        (B, T, out_dim) standardized frame targets (last column: voicing logit), (B, T, 1) mask."""
        c, dc, pc = codes[:, 0], codes[:, 1], codes[:, 2]
        mask = (durations >= 0).unsqueeze(-1).float()  # padding tokens carry duration -1
        lf0 = torch.as_tensor(pitch_value(pc.numpy()), dtype=torch.float32)
        voiced = (pc > 0).float()
        nums = torch.stack([torch.where(voiced > 0, (torch.log(lf0.clamp(min=1)) - LF0_CENTRE) / LF0_SCALE, 0.0), voiced,
                            torch.as_tensor(np.log(duration_value(dc.numpy()) / 0.2), dtype=torch.float32)], -1)
        content = self.content(c)
        if self.training and self.token_dropout > 0:
            content = content * (torch.rand(c.shape) >= self.token_dropout).unsqueeze(-1).float()
        h = (content + self.duration(dc) + self.pitch(pc) + self.numbers(nums)
             + self.speaker(speakers).unsqueeze(1)) * mask
        for b in self.tok:
            h = b(h, mask)
        dur = durations.clamp(min=0)
        T = int(dur.sum(1).max()) if T is None else T
        x, pos = expand(h, dur, max(T, 1))
        fmask = (torch.arange(x.shape[1]).unsqueeze(0) < dur.sum(1, keepdim=True)).unsqueeze(-1).float()
        # the frame's own pitch-code log-F0 too: a straight path from the code to the contour
        x_nums, _ = expand(nums[..., :1], dur, x.shape[1])
        x = self.frame_in(torch.cat([x, pos, x_nums], -1)) * fmask
        for b in self.dec:
            x = b(x, fmask)
        return self.out(x) * fmask, fmask


def collate(batch: list[tuple[np.ndarray, int, np.ndarray]]):
    """[(codes (3, n), speaker id, frames per token (n,))] -> padded (codes, speakers, durations)."""
    N = max(max(c.shape[1] for c, _, _ in batch), 1)
    codes = torch.zeros(len(batch), 3, N, dtype=torch.long)
    dur = torch.full((len(batch), N), -1, dtype=torch.long)
    for i, (c, _, d) in enumerate(batch):
        codes[i, :, : c.shape[1]] = torch.from_numpy(np.asarray(c, np.int64))
        dur[i, : len(d)] = torch.from_numpy(np.asarray(d, np.int64))
    return codes, torch.tensor([s for _, s, _ in batch]), dur


# ---- loading and synthesis ----------------------------------------------------------------------
class Decoder:
    """A trained syllable decoder: weights, the target statistics, its speakers, the codec."""

    def __init__(self, weights: str | Path, config: str | Path):
        from safetensors.torch import load_file

        cfg = json.loads(Path(config).read_text())
        self.cfg = cfg
        self.speakers: list[str] = list(cfg["speakers"])
        self.default_speaker: str = cfg.get("default_speaker") or self.speakers[0]
        t = load_file(str(weights))
        self.mean, self.std = t.pop("target_mean"), t.pop("target_std")
        self.model = SyllableDecoder(**cfg["model"])
        self.model.load_state_dict(t)
        self.model.eval()
        self._codec = None

    @classmethod
    def load(cls, k: int | str) -> "Decoder":
        w, c = decoder_paths(k)
        if not (w.exists() and c.exists()):
            units = f"--units {k}" if isinstance(k, str) else f"--k {k}"
            raise SpeechtokError(f"{w}: no trained unit decoder for {k}; train one with "
                                 f"`python -m speechtok.syllables train-decoder {units}`")
        return cls(w, c)

    @property
    def codec(self):
        if self._codec is None:
            from ..codec.catalogue import resolve

            self._codec = resolve(self.cfg.get("codec", CODEC)).codec
        return self._codec

    def speaker_id(self, speaker: str | None) -> int:
        s = speaker or self.default_speaker
        if s not in self.speakers:
            raise SpeechtokError(f"unknown speaker {s!r}: the syllable decoder speaks {', '.join(self.speakers)}")
        return self.speakers.index(s)

    @torch.no_grad()
    def frames(self, codes: np.ndarray, num_samples: int, speaker: str | None = None) -> np.ndarray:
        """(3, n) codes -> (T, D + 2) raw frame targets (voicing column 0/1)."""
        T = num_frames(num_samples)
        dur = syllable_frames(codes[1], T)
        y, _ = self.model(*collate([(codes, self.speaker_id(speaker), dur)]), T)
        y = y[0]
        v = (y[:, -1] > 0).float()
        y = y * self.std + self.mean
        y[:, -1] = v
        return y.numpy()

    def render(self, frames: np.ndarray, num_samples: int) -> np.ndarray:
        """Raw frame targets -> float32 waveform at 16 kHz (the codec's synthesis)."""
        y = torch.from_numpy(np.asarray(frames, np.float32))
        f0 = np.where(y[:, -1].numpy() > 0.5, np.exp(y[:, -2].numpy()), 0.0).astype(np.float32)
        fr = self.codec.unfeatures(f0, y[:, :-2].contiguous())
        return self.codec.render(fr, num_samples).astype(np.float32)

    def decode(self, codes: np.ndarray, num_samples: int, speaker: str | None = None) -> np.ndarray:
        return self.render(self.frames(codes, num_samples, speaker), num_samples)
