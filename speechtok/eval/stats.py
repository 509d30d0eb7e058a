"""Summary statistics: mean with a percentile-bootstrap 95% confidence interval."""

from __future__ import annotations

import numpy as np


def bootstrap_ci(values, confidence: float = 0.95, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values`` (1-D). Deterministic for a given seed.
    A single value gives ``(v, v)``; empty input raises."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values")
    if x.size == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def summarize(values, n_failed: int = 0) -> dict:
    """``{"mean", "ci_low", "ci_high", "n", "n_failed"}``; mean/CI are None when nothing succeeded."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0, "n_failed": int(n_failed)}
    lo, hi = bootstrap_ci(x)
    return {"mean": float(x.mean()), "ci_low": lo, "ci_high": hi, "n": int(x.size), "n_failed": int(n_failed)}
