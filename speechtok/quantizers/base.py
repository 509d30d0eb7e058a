"""The interface every quantizer here speaks, and code-usage statistics."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch


class VectorQuantizer(ABC):
    """Fit on ``(N, D)`` float vectors; ``encode`` -> ``(K, N)`` int64 codes, codebook ``k`` taking
    values in ``range(codebook_sizes[k])``; ``decode`` -> ``(N, D)`` vectors.

    ``nested``: every prefix of the codebooks is itself a working quantizer (``encode(x, k)``,
    ``decode(codes[:k])``), as in residual VQ; otherwise all codebooks are needed."""

    nested = False
    codebook_sizes: tuple[int, ...] = ()

    @abstractmethod
    def fit(self, x: torch.Tensor, seed: int = 0) -> "VectorQuantizer":
        ...

    @abstractmethod
    def encode(self, x: torch.Tensor, codebooks: int | None = None) -> torch.Tensor:
        ...

    @abstractmethod
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        ...

    # ---- files: a fitted quantizer as named tensors + its constructor options ------------------
    def config(self) -> dict:
        """The constructor options that rebuild this quantizer (JSON values)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def state(self) -> dict[str, torch.Tensor]:
        """What ``fit`` learned, as named tensors (``load_state`` takes them back)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def load_state(self, state: dict[str, torch.Tensor]) -> "VectorQuantizer":
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")

    @property
    def bits(self) -> float:
        """Bits per vector with all codebooks."""
        return sum(math.log2(n) for n in self.codebook_sizes)

    def _check_prefix(self, codebooks: int | None) -> int:
        k = len(self.codebook_sizes) if codebooks is None else codebooks
        if not 1 <= k <= len(self.codebook_sizes):
            raise ValueError(f"codebooks must be 1..{len(self.codebook_sizes)}, got {k}")
        if k < len(self.codebook_sizes) and not self.nested:
            raise ValueError(f"{type(self).__name__} needs all {len(self.codebook_sizes)} codebooks")
        return k


def code_usage(codes: torch.Tensor, sizes: tuple[int, ...]) -> list[dict]:
    """Per codebook: the fraction of its codewords that ``codes`` (K, N) use, and the perplexity
    (2 ** entropy in bits) and entropy of their histogram."""
    out = []
    for row, n in zip(codes, sizes):
        counts = torch.bincount(row, minlength=n).double()
        p = counts[counts > 0] / counts.sum()
        h = float(-(p * p.log2()).sum())
        out.append({"size": int(n), "used": float((counts > 0).sum() / n), "entropy_bits": h,
                    "perplexity": 2.0**h})
    return out
