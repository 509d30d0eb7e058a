"""Semantic objectives for the codec, each a config switch with a weight (``loss.semantic``)::

    loss:
      semantic:
        phones: {weight: 1.0, alignments: data/asterisk/alignments/en.jsonl}   # (a) SpeechTokenizer-style
        invariance: {weight: 1.0, snr_db: [10, 30], gain_db: 6, speed: 0.1}  # (c) augmentation invariance
        asr_encoder: {weight: 1.0, checkpoint: PATH}                          # (b) LM-SPT-style

(a) The first codebook's quantized output (straight-through) predicts the frame's phone
    (cross-entropy; frames without a label are ignored), so codebook 1 carries content.
(b) The decoded audio, passed through a frozen phone-CTC encoder (our offline ASR teacher),
    must match the original's encoding (L1 on features).
(c) Latents of the utterance under noise, gain and speed perturbation (±10%, pitch and tempo
    together; the perturbed latents are warped back onto the clean frames) must match the clean
    latents (before quantization), so tokens are stable under nuisance changes.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

KNOWN = ("phones", "invariance", "asr_encoder")


def _options(value) -> dict:
    return {"weight": float(value)} if isinstance(value, (int, float)) else dict(value)


class PhoneHead(nn.Module):
    """First-codebook code vectors (batch, frames, codebook_dim) -> phone logits."""

    def __init__(self, codebook_dim: int, num_phones: int, hidden: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(codebook_dim, hidden), nn.GELU(), nn.Linear(hidden, num_phones))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def first_codebook_st(codec, latents: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """latents (batch, frames, latent_dim), codes (batch, frames, K) -> (batch, frames, codebook_dim)."""
    return codec.quantizer.first_codebook_st(latents, codes)


class SemanticObjectives(nn.Module):
    """Callable used by the training loop: returns {name: (weight, loss)}."""

    def __init__(self, spec: dict, codec):
        super().__init__()
        unknown = sorted(set(spec) - set(KNOWN))
        if unknown:
            raise ValueError(f"loss.semantic: unknown objective(s) {unknown}; known: {list(KNOWN)}")
        self.spec = {k: _options(v) for k, v in spec.items()}
        self.asr = None
        if "phones" in self.spec:
            from ..data.phones import NUM_PHONES

            self.phone_head = PhoneHead(codec.cfg.quantizer.codebook_dim, NUM_PHONES)
        if "asr_encoder" in self.spec:
            from ..teachers.phone_ctc import PhoneCTC

            self.asr = PhoneCTC.load(self.spec["asr_encoder"].get("checkpoint"), frozen=True)
            for p in self.asr.parameters():
                p.requires_grad_(False)

    @property
    def needs_labels(self) -> bool:
        return "phones" in self.spec

    def forward(self, wav, recon, codes, latents, codec, labels=None):
        out = {}
        if "phones" in self.spec and labels is not None:
            logits = self.phone_head(first_codebook_st(codec, latents, codes))
            n = min(logits.shape[1], labels.shape[1])
            loss = F.cross_entropy(logits[:, :n].reshape(-1, logits.shape[-1]), labels[:, :n].reshape(-1), ignore_index=-1)
            if torch.isfinite(loss):  # a batch with no labelled frame gives nan: skip it
                out["phones"] = (self.spec["phones"]["weight"], loss)
        if "invariance" in self.spec:
            o = self.spec["invariance"]
            lo, hi = o.get("snr_db", [10.0, 30.0])
            b = wav.shape[0]
            snr = lo + (hi - lo) * torch.rand(b, 1, device=wav.device)
            gain = 10 ** ((torch.rand(b, 1, device=wav.device) * 2 - 1) * float(o.get("gain_db", 6.0)) / 20)
            power = wav.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-8)
            noisy = gain * (wav + torch.randn_like(wav) * torch.sqrt(power / 10 ** (snr / 10)))
            speed = float(o.get("speed", 0.1))
            if speed > 0:  # speed perturbation (pitch and tempo together, like sox `speed`)
                factor = 1.0 + (2 * torch.rand(()).item() - 1) * speed
                hop = codec.hop
                n = max(hop, int(round(wav.shape[-1] / factor / hop)) * hop)
                noisy = F.interpolate(noisy[:, None], size=n, mode="linear", align_corners=False)[:, 0]
            target = latents.detach()
            perturbed = codec.encoder(noisy)
            if perturbed.shape[1] != target.shape[1]:  # warp back onto the clean frames
                perturbed = F.interpolate(perturbed.transpose(1, 2), size=target.shape[1], mode="linear", align_corners=False).transpose(1, 2)
            loss = F.mse_loss(perturbed, target) / target.var().clamp_min(1e-6)
            out["invariance"] = (o["weight"], loss)
        if self.asr is not None:
            o = self.spec["asr_encoder"]
            with torch.no_grad():
                ref = self.asr.encode(wav)
            out["asr_encoder"] = (o["weight"], F.l1_loss(self.asr.encode(recon), ref))
        return out
