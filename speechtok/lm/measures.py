"""Summaries of per-utterance likelihoods: bits per second of audio (with a bootstrap CI over
utterances), bits per token, perplexity, AR steps and tokens per second of audio."""

from __future__ import annotations

import numpy as np


def ratio_ci(num, den, resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap CI of ``sum(num) / sum(den)``, resampling items (utterances)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    if num.size < 2:
        v = float(num.sum() / den.sum()) if den.sum() else float("nan")
        return v, v
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num.size, size=(resamples, num.size))
    r = num[idx].sum(1) / np.maximum(den[idx].sum(1), 1e-12)
    a = (1 - confidence) / 2
    return float(np.quantile(r, a)), float(np.quantile(r, 1 - a))


def likelihood_summary(rows: list[dict]) -> dict:
    """rows: ``{"bits", "tokens", "steps", "duration"}`` per utterance -> totals. Ratios are of sums
    (a long utterance weighs by its length), CIs resample utterances."""
    if not rows:
        raise ValueError("no utterances scored")
    bits = np.array([r["bits"] for r in rows])
    toks = np.array([r["tokens"] for r in rows])
    steps = np.array([r["steps"] for r in rows])
    secs = np.array([r["duration"] for r in rows])
    bps_lo, bps_hi = ratio_ci(bits, secs)
    bpt = float(bits.sum() / toks.sum())
    return {
        "utterances": len(rows),
        "seconds": float(secs.sum()),
        "bits_per_second": float(bits.sum() / secs.sum()),
        "bits_per_second_ci": [bps_lo, bps_hi],
        "bits_per_token": bpt,
        "perplexity": float(2.0**bpt),
        "tokens_per_second": float(toks.sum() / secs.sum()),
        "steps_per_second": float(steps.sum() / secs.sum()),
    }
