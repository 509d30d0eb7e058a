"""Parameters -> integer codes: a pitch codebook and residual k-means codebooks.

* ``PitchQuantizer``: symbol 0 = unvoiced, symbols 1..levels-1 = log-F0 on a uniform grid
  between ``f0_min`` and ``f0_max`` (fixed, not learned: a grid fitted to four training voices
  would not cover an unseen speaker's range).
* ``ResidualKMeans``: residual VQ whose codebooks are fitted stage by stage with k-means on the
  normalised feature vectors. Stage ``k`` is fitted on what stages ``< k`` left, so every prefix of
  the stages is itself a working quantizer (quantizer dropout for free: one model, several rates).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...dsp import centroid_norms, kmeans, nearest


class PitchQuantizer:
    def __init__(self, levels: int, f0_min: float, f0_max: float):
        if levels < 3:
            raise ValueError("pitch levels must be >= 3 (unvoiced + at least two F0 steps)")
        self.levels, self.f0_min, self.f0_max = levels, f0_min, f0_max
        self.lo, self.hi = math.log(f0_min), math.log(f0_max)
        self.step = (self.hi - self.lo) / (levels - 2)  # log-F0 per symbol

    @property
    def bits(self) -> float:
        return math.log2(self.levels)

    def encode(self, f0: np.ndarray) -> np.ndarray:
        f0 = np.asarray(f0, np.float64)
        voiced = f0 > 0
        q = np.round((np.log(np.where(voiced, f0, 1.0)).clip(self.lo, self.hi) - self.lo) / self.step)
        return np.where(voiced, q.astype(np.int64) + 1, 0)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        f0 = np.exp(self.lo + (codes - 1).clip(0, None) * self.step)
        return np.where(codes > 0, f0, 0.0).astype(np.float32)


# the shared k-means (the old names stay importable from here)
_nearest = nearest


class ResidualKMeans(torch.nn.Module):
    """``num_stages`` codebooks of ``codebook_size`` vectors of ``dim``; buffers only (no gradients).

    ``side_dim`` > 0: stage 0 also keeps a ``side_dim`` part of each centroid (``side_codebook``),
    and encoding then needs the frames' side coordinates (a phone teacher's scaled posteriors):
    stage 0 picks the nearest centroid in ``[features ; side]``. Decoding uses the feature part."""

    def __init__(self, dim: int, codebook_size: int, num_stages: int, side_dim: int = 0):
        super().__init__()
        self.dim, self.codebook_size, self.num_stages, self.side_dim = dim, codebook_size, num_stages, side_dim
        self.register_buffer("codebooks", torch.zeros(num_stages, codebook_size, dim))
        if side_dim:
            self.register_buffer("side_codebook", torch.zeros(codebook_size, side_dim))

    def _nearest_stage(self, s: int, x: torch.Tensor, side: torch.Tensor | None,
                       metric: torch.Tensor | None = None) -> torch.Tensor:
        if metric is not None:  # a weighted error (band.in_band_metric): nearest in the mapped space
            if s == 0 and self.side_dim:
                return _nearest(torch.cat([x @ metric, side], 1), torch.cat([self.codebooks[0] @ metric, self.side_codebook], 1))
            return _nearest(x @ metric, self.codebooks[s] @ metric)
        if s == 0 and self.side_dim:
            if side is None or side.shape != (len(x), self.side_dim):
                raise ValueError(f"this quantizer's first stage needs {self.side_dim} teacher coordinates per frame")
            return _nearest(torch.cat([x, side], 1), torch.cat([self.codebooks[0], self.side_codebook], 1))
        return _nearest(x, self.codebooks[s], c2=self._norms(s))

    def _norms(self, s: int) -> torch.Tensor:
        """Stage ``s``'s codeword norms (``dsp.centroid_norms``), kept until the codebooks change
        (fit, load_state_dict: their version counter moves)."""
        cb = self.codebooks
        key = (cb.data_ptr(), cb._version, s)
        cache = self.__dict__.setdefault("_norm_cache", {})
        if key not in cache:
            if len(cache) > 4 * self.num_stages:
                cache.clear()
            cache[key] = centroid_norms(cb[s])
        return cache[key]

    @torch.no_grad()
    def fit(self, x: torch.Tensor, iters: int = 20, seed: int = 0, progress=None,
            side: torch.Tensor | None = None) -> list[float]:
        """x (n, dim) normalised features. Returns the mean squared error left after each stage.

        ``side`` (n, m): coordinates that join stage 0's k-means (the teacher's scaled
        posteriors). Without ``side_dim`` they are dropped after the fit (encoding never sees
        them); with it (m == side_dim) they are kept and encoding needs them too. Each later
        stage is fitted on the residual that encoding leaves."""
        if side is not None and self.side_dim and side.shape[1] != self.side_dim:
            raise ValueError(f"side has {side.shape[1]} coordinates, the quantizer keeps {self.side_dim}")
        if self.side_dim and side is None:
            raise ValueError(f"this quantizer's first stage needs {self.side_dim} teacher coordinates per frame")
        residual = x.clone()
        errors = []
        for s in range(self.num_stages):
            if s == 0 and side is not None:
                c = kmeans(torch.cat([residual, side], 1), self.codebook_size, iters, seed)
                self.codebooks[0] = c[:, : self.dim]
                if self.side_dim:
                    self.side_codebook.copy_(c[:, self.dim :])
            else:
                self.codebooks[s] = kmeans(residual, self.codebook_size, iters, seed + s)
            residual = residual - self.codebooks[s][self._nearest_stage(s, residual, side)]
            errors.append(float((residual**2).mean()))
            if progress:
                progress(s, errors[-1])
        return errors

    @torch.no_grad()
    def encode(self, x: torch.Tensor, stages: int | None = None, side: torch.Tensor | None = None,
               metric: torch.Tensor | None = None) -> torch.Tensor:
        """(n, dim) -> (stages, n) codes (``side``: (n, side_dim), when the quantizer keeps one;
        ``metric``: (dim, dim) ``L``, pick the codeword minimising ``|(x - c) @ L|^2``)."""
        residual = x.clone()
        codes = []
        for s in range(stages or self.num_stages):
            c = self._nearest_stage(s, residual, side, metric)
            residual = residual - self.codebooks[s][c]
            codes.append(c)
        return torch.stack(codes)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(stages, n) -> (n, dim): the sum of the chosen vectors of the stages given."""
        out = torch.zeros(codes.shape[1], self.dim)
        for s in range(codes.shape[0]):
            out += self.codebooks[s][codes[s]]
        return out
