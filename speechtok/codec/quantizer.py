"""Quantizers from vector-quantize-pytorch behind one small interface.

``rvq``: residual VQ (k-means init, EMA codebooks, dead-code replacement, quantizer dropout).
         ``projection: per_codebook`` (default) gives every codebook its own low-dimensional
         in/out projection of the full residual (DAC's factorised codes); ``shared`` projects the
         latent once to ``codebook_dim`` and quantizes residuals there (vector-quantize-pytorch's
         ResidualVQ), which caps what all codebooks together can carry at ``codebook_dim`` floats
         per frame: extra codebooks then add little.
``fsq``: finite scalar quantization (residual FSQ when num_quantizers > 1); no codebook to collapse.
``vq``:  one large codebook.
``lfq``: lookup-free quantization (MAGVIT-v2): the latent is projected to ``log2(codebook_size)``
         dimensions and each is coded by its sign, with an entropy loss that keeps the bits in use
         (``entropy_weight``); residual LFQ when num_quantizers > 1. No codebook to collapse or
         k-means-initialise.
``bsq``: binary spherical quantization: LFQ on the unit sphere (the projected vector is normalised
         before its signs are taken, so the quantization error is bounded); residual when > 1.
``mcrvq``: masked-channel residual VQ (Language-Codec): the first ``masked_groups`` levels each
         see and write only one contiguous group of the latent's channels (the others masked to
         zero), so the first codebooks split the latent between them instead of all coding its
         largest components; the later levels are plain residual VQ on the full residual.
The feature-level versions of LFQ / BSQ / MCRVQ (fitted on fixed features, for the LM bench's quantizer
rows) live in ``speechtok.quantizers.binary``; these are trained end to end with the codec.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import QuantizerConfig


class FactorizedResidualVQ(nn.Module):
    """Residual VQ over library `VectorQuantize` layers, each with its own projection; with
    ``masked_groups`` > 0 the first that many levels each see and write one contiguous channel
    group only (MCRVQ)."""

    def __init__(self, dim: int, num_quantizers: int, dropout: bool, masked_groups: int = 0, **vq_kwargs):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.layers = nn.ModuleList(VectorQuantize(dim=dim, **vq_kwargs) for _ in range(num_quantizers))
        self.dropout = dropout
        masks = torch.ones(num_quantizers, dim)
        if masked_groups:
            edges = torch.linspace(0, dim, masked_groups + 1).round().long()
            masks[:masked_groups] = 0
            for g in range(masked_groups):
                masks[g, edges[g] : edges[g + 1]] = 1
        self.register_buffer("masks", masks, persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        """x (batch, frames, dim) -> (quantized, codes (batch, frames, K) with -1 for dropped
        codebooks, summed commitment loss). Training with dropout uses a random number of
        codebooks (the same for the whole batch), so one model serves every bitrate."""
        n = len(self.layers)
        if self.training and self.dropout and n > 1:
            n = int(torch.randint(1, n + 1, (1,)).item())
        residual, out, loss = x, torch.zeros_like(x), x.new_zeros(())
        codes = []
        for layer, keep in zip(self.layers[:n], self.masks):
            q, idx, l = layer(residual * keep, mask=mask)
            q = q * keep
            residual = residual - q.detach()
            out = out + q
            loss = loss + l.sum()
            codes.append(idx)
        codes += [torch.full_like(codes[0], -1)] * (len(self.layers) - n)
        return out, torch.stack(codes, dim=-1), loss

    def get_output_from_indices(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (batch, frames, k), k <= K, -1 = not used -> (batch, frames, dim)."""
        out = 0
        for layer, idx, keep in zip(self.layers, codes.unbind(-1), self.masks):
            used = (idx >= 0).unsqueeze(-1)
            out = out + layer.get_output_from_indices(idx.clamp_min(0)) * used * keep
        return out


class Quantizer(nn.Module):
    def __init__(self, cfg: QuantizerConfig, dim: int):
        super().__init__()
        self.cfg = cfg
        from vector_quantize_pytorch import FSQ, ResidualFSQ, ResidualVQ, VectorQuantize

        vq_kwargs = dict(
            kmeans_init=cfg.kmeans_init,
            kmeans_iters=10,
            threshold_ema_dead_code=cfg.dead_code_threshold,
            decay=cfg.decay,
            commitment_weight=cfg.commitment_weight,
        )
        if cfg.kind == "mcrvq" or (cfg.kind == "rvq" and cfg.projection == "per_codebook"):
            self.impl = FactorizedResidualVQ(
                dim,
                cfg.num_quantizers,
                dropout=cfg.dropout,
                masked_groups=cfg.masked_groups if cfg.kind == "mcrvq" else 0,
                codebook_size=cfg.codebook_size,
                codebook_dim=cfg.codebook_dim,
                **vq_kwargs,
            )
            self.codebook_sizes = (cfg.codebook_size,) * cfg.num_quantizers
        elif cfg.kind == "rvq":
            if cfg.projection != "shared":
                raise ValueError(f"quantizer.projection must be per_codebook or shared, not {cfg.projection!r}")
            self.impl = ResidualVQ(
                dim=dim,
                num_quantizers=cfg.num_quantizers,
                codebook_size=cfg.codebook_size,
                codebook_dim=cfg.codebook_dim,
                quantize_dropout=cfg.dropout and cfg.num_quantizers > 1,
                **vq_kwargs,
            )
            self.codebook_sizes = (cfg.codebook_size,) * cfg.num_quantizers
        elif cfg.kind == "vq":
            self.impl = VectorQuantize(dim=dim, codebook_size=cfg.codebook_size, codebook_dim=cfg.codebook_dim, **vq_kwargs)
            self.codebook_sizes = (cfg.codebook_size,)
        elif cfg.kind in ("lfq", "bsq"):
            from vector_quantize_pytorch import LFQ, ResidualLFQ

            lfq_kwargs = dict(codebook_size=cfg.codebook_size, spherical=cfg.kind == "bsq",
                              entropy_loss_weight=cfg.entropy_weight, commitment_loss_weight=cfg.commitment_weight)
            if cfg.num_quantizers > 1:
                self.impl = ResidualLFQ(dim=dim, num_quantizers=cfg.num_quantizers,
                                        quantize_dropout=cfg.dropout, **lfq_kwargs)
            else:
                self.impl = LFQ(dim=dim, **lfq_kwargs)
            self.codebook_sizes = (cfg.codebook_size,) * cfg.num_quantizers
        elif cfg.kind == "fsq":
            size = math.prod(cfg.levels)
            if cfg.num_quantizers > 1:
                self.impl = ResidualFSQ(
                    dim=dim,
                    levels=list(cfg.levels),
                    num_quantizers=cfg.num_quantizers,
                    quantize_dropout=cfg.dropout,
                )
                self.codebook_sizes = (size,) * cfg.num_quantizers
            else:
                self.impl = FSQ(levels=list(cfg.levels), dim=dim)
                self.codebook_sizes = (size,)
        else:
            raise ValueError(f"unknown quantizer kind {cfg.kind!r}")

    def first_codebook_st(self, latents: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Straight-through first-codebook vectors (batch, frames, codebook_dim): the chosen
        code's value, with the gradient going to the encoder (for semantic distillation)."""
        if self.cfg.kind != "rvq":
            raise ValueError("semantic distillation of the first codebook needs quantizer.kind: rvq")
        idx = codes[..., :1].clamp_min(0)
        if isinstance(self.impl, FactorizedResidualVQ):
            layer = self.impl.layers[0]
            z = layer.project_in(latents)
            chosen = layer.get_codes_from_indices(idx[..., 0])
        else:
            z = self.impl.project_in(latents)
            chosen = self.impl.get_codes_from_indices(idx)[0]
        return z + (chosen - z).detach()

    @property
    def num_codebooks(self) -> int:
        return len(self.codebook_sizes)

    def forward(self, latents: torch.Tensor, mask: torch.Tensor | None = None):
        """latents (batch, frames, dim) -> (quantized (batch, frames, dim), codes (batch, frames, K),
        commitment loss (scalar)). In training, quantizer dropout may leave trailing codes at -1."""
        kind = self.cfg.kind
        if kind in ("rvq", "mcrvq"):
            q, codes, loss = self.impl(latents, mask=mask)
            return q, codes, loss.sum()
        if kind == "vq":
            q, codes, loss = self.impl(latents, mask=mask)
            return q, codes.unsqueeze(-1), loss.sum()
        if kind in ("lfq", "bsq"):  # residual: codes (batch, frames, K); one: (batch, frames)
            q, codes, loss = self.impl(latents, mask=mask)
            return q, codes if codes.dim() == 3 else codes.unsqueeze(-1), loss.sum()
        zero = latents.new_zeros(())
        if self.cfg.num_quantizers > 1:  # residual FSQ
            q, codes = self.impl(latents)
            return q, codes, zero
        q, codes = self.impl(latents)
        return q, codes.unsqueeze(-1), zero

    @torch.no_grad()
    def encode(self, latents: torch.Tensor, num_codebooks: int | None = None) -> torch.Tensor:
        """(batch, frames, dim) -> codes (batch, frames, K) with all K codebooks (deterministic)."""
        was_training = self.training
        self.eval()
        _, codes, _ = self.forward(latents)
        self.train(was_training)
        return codes[..., :num_codebooks] if num_codebooks else codes

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (batch, frames, k) with k <= K (the first k codebooks) -> (batch, frames, dim)."""
        kind = self.cfg.kind
        if kind == "vq":
            return self.impl.get_output_from_indices(codes[..., 0])
        if kind in ("fsq", "lfq", "bsq") and self.cfg.num_quantizers == 1:
            return self.impl.indices_to_codes(codes[..., 0])
        k = codes.shape[-1]
        if kind in ("lfq", "bsq"):
            # each level's own indices_to_codes: the library's residual lookup reads the raw
            # codebook, which lacks bsq's normalisation (it would decode other vectors than the
            # forward pass quantized to)
            out = 0
            for layer, idx in zip(self.impl.layers, codes.unbind(-1)):
                used = (idx >= 0).unsqueeze(-1)
                out = out + layer.indices_to_codes(idx.clamp_min(0), project_out=False) * used
            return self.impl.project_out(out)
        if k < self.num_codebooks:
            codes = torch.nn.functional.pad(codes, (0, self.num_codebooks - k), value=-1)
        return self.impl.get_output_from_indices(codes)
