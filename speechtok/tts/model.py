"""The non-autoregressive acoustic model: phones -> the codec's frame parameters.

A phone encoder (convolutions + self-attention, a speaker embedding added), a duration
predictor and a phone-level pitch predictor (FastPitch's idea: the pitch of each phone is
embedded and added back, so prosody is a control), the length regulator (``align.expand``) and
a frame decoder of dilated residual convolutions. The decoder predicts, per frame, the codec's
envelope/aperiodicity features (``SourceFilterCodec.features``), log-F0 (interpolated through
unvoiced frames) and a voicing logit, all standardized; the codec then quantizes them into its
tokens and decodes (``voice.py``). Alignment is learned with MAS on the encoder's means (``align.py``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..nn import ConvBlock, expand, frame_positions
from .align import align_batch


class Predictor(nn.Module):
    """Two convolutions and a linear read-out: one value per phone."""

    def __init__(self, d: int, kernel: int = 3, dropout: float = 0.1):
        super().__init__()
        self.a = ConvBlock(d, kernel, dropout=dropout)
        self.b = ConvBlock(d, kernel, dropout=dropout)
        self.out = nn.Linear(d, 1)

    def forward(self, h, mask):
        return self.out(self.b(self.a(h, mask), mask)).squeeze(-1) * mask.squeeze(-1)


def sinusoids(T: int, d: int) -> torch.Tensor:
    pos = torch.arange(T).float().unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    pe = torch.zeros(T, d)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div[: d // 2])
    return pe


class AcousticModel(nn.Module):
    def __init__(self, n_phones: int, n_speakers: int, out_dim: int, hidden: int = 192, encoder_convs: int = 3,
                 encoder_layers: int = 2, decoder_layers: int = 6, kernel: int = 5, heads: int = 2, dropout: float = 0.1):
        super().__init__()
        d = hidden
        self.out_dim = out_dim
        self.embed = nn.Embedding(n_phones, d, padding_idx=0)
        self.speaker = nn.Embedding(max(1, n_speakers), d)
        self.enc_convs = nn.ModuleList([ConvBlock(d, kernel, dropout=dropout) for _ in range(encoder_convs)])
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout, batch_first=True, norm_first=False)
        self.enc_attn = nn.TransformerEncoder(layer, encoder_layers, enable_nested_tensor=False) if encoder_layers else None
        self.to_mu = nn.Linear(d, out_dim)
        self.duration = Predictor(d, dropout=dropout)
        self.pitch = Predictor(d, dropout=dropout)
        self.pitch_embed = nn.Conv1d(1, d, 3, padding=1)
        self.dec_in = nn.Linear(d + 2, d)
        dil = [1, 2, 4, 1, 2, 4, 1, 2, 4, 8]
        self.dec = nn.ModuleList([ConvBlock(d, kernel, dil[i % len(dil)], dropout) for i in range(decoder_layers)])
        self.out = nn.Linear(d, out_dim)

    def encode(self, phones: torch.Tensor, speakers: torch.Tensor):
        """(B, N) phone ids, (B,) speakers -> states (B, N, d), means (B, N, out_dim), mask (B, N, 1)."""
        mask = (phones > 0).unsqueeze(-1).float()
        h = self.embed(phones) + self.speaker(speakers).unsqueeze(1)
        h = h * mask
        for c in self.enc_convs:
            h = c(h, mask)
        if self.enc_attn is not None:
            h = h + sinusoids(h.shape[1], h.shape[2]).to(h)
            h = self.enc_attn(h, src_key_padding_mask=~mask.squeeze(-1).bool()) * mask
        return h, self.to_mu(h) * mask, mask

    def decode(self, h: torch.Tensor, pitch: torch.Tensor, durations: torch.Tensor, mask: torch.Tensor):
        """States, phone pitch (B, N), integer durations (B, N) -> frame outputs (B, T, out_dim), frame mask."""
        h = h + self.pitch_embed(pitch.unsqueeze(1)).transpose(1, 2) * mask
        x = expand(h, durations)
        T = x.shape[1]
        fmask = (torch.arange(T).unsqueeze(0) < durations.sum(1, keepdim=True)).unsqueeze(-1).float()
        x = self.dec_in(torch.cat([x, frame_positions(durations, T)], -1)) * fmask
        for c in self.dec:
            x = c(x, fmask)
        return self.out(x) * fmask, fmask

    def forward(self, phones, speakers, target, n_phones, n_frames, spans=None):
        """Training pass: alignment by MAS (kept to ``spans`` where given), then every prediction against its target.
        Returns (frame prediction, mean of aligned phones per frame, durations, predicted log
        durations, phone pitch target, predicted phone pitch, phone mask, frame mask)."""
        h, mu, mask = self.encode(phones, speakers)
        dur = align_batch(mu.detach(), target, n_phones, n_frames, spans)
        # phone-level pitch target: the mean standardized log-F0 (column -2) over the phone's frames
        T = target.shape[1]
        ends = dur.cumsum(1)
        frames = torch.arange(T).unsqueeze(0).expand(len(dur), T).contiguous()
        idx = torch.searchsorted(ends, frames, right=True).clamp(max=dur.shape[1] - 1)
        fm = (frames < ends[:, -1:]).float()
        lf0 = target[..., -2] * fm
        sums = torch.zeros(dur.shape).scatter_add_(1, idx, lf0)
        pitch_tgt = sums / dur.clamp(min=1)
        logd_hat = self.duration(h.detach(), mask)
        pitch_hat = self.pitch(h.detach(), mask)
        y, fmask = self.decode(h, pitch_tgt, dur, mask)
        mu_frames = expand(mu, dur, T)
        return y, mu_frames, dur, logd_hat, pitch_tgt, pitch_hat, mask, fmask

    def forward_given(self, phones, speakers, durations):
        """Training pass with given durations (target tokens): (frame outputs, log-duration
        predictions, phone mask, frame mask); the phone pitch input is zero (pitch is a token)."""
        h, _, mask = self.encode(phones, speakers)
        logd_hat = self.duration(h.detach(), mask)
        y, fmask = self.decode(h, torch.zeros(phones.shape), durations, mask)
        return y, logd_hat, mask, fmask

    @torch.no_grad()
    def infer(self, phones, speakers, pace: float = 1.0, pitch_shift: float = 0.0, min_frames: int = 1,
              use_pitch: bool = True):
        """(B, N) phones -> frame outputs (B, T, out_dim), frame counts (B,), durations (B, N)."""
        h, _, mask = self.encode(phones, speakers)
        logd = self.duration(h, mask)
        dur = torch.clamp(torch.round(torch.expm1(logd.clamp(min=0)) * pace), min=min_frames).long() * mask.squeeze(-1).long()
        pitch = (self.pitch(h, mask) + pitch_shift) * mask.squeeze(-1) if use_pitch else torch.zeros(phones.shape)
        y, fmask = self.decode(h, pitch, dur, mask)
        return y, dur.sum(1), dur


def build_model(cfg) -> AcousticModel:
    """The network a ``TTSRunConfig`` (with its ``learned`` facts) describes."""
    lr, m = cfg.learned, cfg.model
    return AcousticModel(len(lr["phones"]), len(lr["voices"]), lr["out_dim"], m.hidden, m.encoder_convs,
                         m.encoder_layers, m.decoder_layers, m.kernel, m.heads, m.dropout)


def load_weights(model: AcousticModel, path) -> None:
    from safetensors.torch import load_file

    model.load_state_dict(load_file(str(path)))
