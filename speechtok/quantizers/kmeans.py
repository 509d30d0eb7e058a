"""k-means codebooks: one (plain VQ), residual stages, and masked-channel residual stages.

All three reuse the k-means the source-filter codec uses (``speechtok.dsp.kmeans``): with
no masks ``ResidualKMeansVQ`` gives the codes of the codec's ``ResidualKMeans`` fitted with the
same seed (tested).

``MaskedResidualVQ`` is Language-Codec's MCRVQ on fixed features: its first stages each see only
a subset of the channels (the rest masked to zero, so their codewords are zero there), the later
stages the residual of all channels. The paper's aim is to put less information in the first
codebook (which an LM must predict from weak conditioning) rather than less distortion.
"""

from __future__ import annotations

import torch

from ..dsp import kmeans, nearest as _nearest
from .base import VectorQuantizer


def contiguous_masks(dim: int, groups: int) -> list[torch.Tensor]:
    """``groups`` boolean masks over ``dim`` channels, contiguous and about equal (the paper's split
    of the latent's channels)."""
    edges = torch.linspace(0, dim, groups + 1).round().long()
    masks = []
    for a, b in zip(edges[:-1], edges[1:]):
        m = torch.zeros(dim, dtype=torch.bool)
        m[a:b] = True
        masks.append(m)
    return masks


class ResidualKMeansVQ(VectorQuantizer):
    """``stages`` codebooks of ``codebook_size`` (or one size per stage); stage ``s`` is k-means on the residual left by
    stages ``< s``, restricted to ``masks[s]`` when given (None: all channels). Nested."""

    nested = True

    def __init__(self, codebook_size: int | list[int] = 2048, stages: int = 1, iters: int = 20,
                 masks: list[torch.Tensor | None] | None = None):
        sizes = [codebook_size] * stages if isinstance(codebook_size, int) else list(codebook_size)
        if len(sizes) != stages:
            raise ValueError(f"{len(sizes)} codebook sizes for {stages} stages")
        self.codebook_size, self.stages, self.iters = codebook_size, stages, iters
        self.masks = list(masks or []) + [None] * (stages - len(masks or []))
        if len(self.masks) != stages:
            raise ValueError(f"{len(self.masks)} masks for {stages} stages")
        self.codebook_sizes = tuple(sizes)
        self.codebooks: list[torch.Tensor] | None = None  # per stage (codebook_sizes[s], D)

    def config(self) -> dict:
        return {"codebook_size": list(self.codebook_sizes), "stages": self.stages, "iters": self.iters}

    def state(self) -> dict[str, torch.Tensor]:
        if self.codebooks is None:
            raise ValueError(f"{type(self).__name__} is not fitted")
        out = {f"codebook.{s}": c.contiguous() for s, c in enumerate(self.codebooks)}
        out.update({f"mask.{s}": m.to(torch.uint8) for s, m in enumerate(self.masks) if m is not None})
        return out

    def load_state(self, state: dict[str, torch.Tensor]) -> "ResidualKMeansVQ":
        self.codebooks = [state[f"codebook.{s}"].float() for s in range(self.stages)]
        self.masks = [state[f"mask.{s}"].bool() if f"mask.{s}" in state else None for s in range(self.stages)]
        return self

    def _stage_codes(self, s: int, residual: torch.Tensor) -> torch.Tensor:
        m = self.masks[s]
        if m is None:
            return _nearest(residual, self.codebooks[s])
        return _nearest(residual[:, m], self.codebooks[s][:, m])

    @torch.no_grad()
    def fit(self, x: torch.Tensor, seed: int = 0) -> "ResidualKMeansVQ":
        x = x.float()
        self.codebooks = [torch.zeros(n, x.shape[1]) for n in self.codebook_sizes]
        residual = x.clone()
        for s, n in enumerate(self.codebook_sizes):
            m = self.masks[s]
            if m is None:
                self.codebooks[s] = kmeans(residual, n, self.iters, seed + s)
            else:
                self.codebooks[s][:, m] = kmeans(residual[:, m].contiguous(), n, self.iters, seed + s)
            residual = residual - self.codebooks[s][self._stage_codes(s, residual)]
        return self

    @torch.no_grad()
    def encode(self, x: torch.Tensor, codebooks: int | None = None) -> torch.Tensor:
        residual, codes = x.float().clone(), []
        for s in range(self._check_prefix(codebooks)):
            c = self._stage_codes(s, residual)
            residual = residual - self.codebooks[s][c]
            codes.append(c)
        return torch.stack(codes)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(codes.shape[1], self.codebooks[0].shape[1])
        for s in range(codes.shape[0]):
            out += self.codebooks[s][codes[s]]
        return out


class KMeansVQ(ResidualKMeansVQ):
    """Plain VQ: one k-means codebook of ``codebook_size``."""

    def __init__(self, codebook_size: int | list[int] = 2048, iters: int = 20):
        super().__init__(codebook_size, 1, iters)

    def config(self) -> dict:
        return {"codebook_size": self.codebook_sizes[0], "iters": self.iters}


class MaskedResidualVQ(ResidualKMeansVQ):
    """MCRVQ: the first ``masked`` stages see ``masked`` contiguous channel groups (or the given
    ``masks``), one group each; the remaining stages the residual of all channels. The masks are
    set from the data's dimension at ``fit`` when not given."""

    def __init__(self, codebook_size: int = 2048, stages: int = 3, masked: int = 3, iters: int = 20,
                 masks: list[torch.Tensor] | None = None):
        super().__init__(codebook_size, stages, iters)
        self.masked, self.given_masks = masked, masks

    def config(self) -> dict:
        return {**super().config(), "masked": self.masked}

    def fit(self, x: torch.Tensor, seed: int = 0) -> "MaskedResidualVQ":
        masks = self.given_masks if self.given_masks is not None else contiguous_masks(x.shape[1], self.masked)
        masks = list(masks)[: self.stages]
        self.masks = masks + [None] * (self.stages - len(masks))
        return super().fit(x, seed)
