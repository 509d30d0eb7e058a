"""Quality figures for training validation: the benchmark's own definitions
(`speechtok.eval.metrics`), leaving out the ones whose package is not installed."""

from __future__ import annotations

import numpy as np


def quality_metrics(ref: np.ndarray, deg: np.ndarray, sample_rate: int = 16000) -> dict[str, float]:
    """``(samples,)`` arrays at ``sample_rate`` -> {"mel": log-mel L1, "stoi", "pesq"}."""
    from .errors import MissingDependencyError
    from .eval.metrics import perceptual, signal

    n = min(len(ref), len(deg))
    ref, deg = ref[:n].astype(np.float64), deg[:n].astype(np.float64)
    out = {"mel": signal.log_mel_l1(ref, deg, sample_rate)}
    for name, fn in (("stoi", perceptual.stoi), ("pesq", perceptual.pesq_wb)):
        try:
            out[name] = fn(ref, deg, sample_rate)
        except (MissingDependencyError, ImportError, ValueError):
            pass  # not installed, or no speech found: leave it out rather than invent a value
        except Exception as e:  # pesq's own errors (e.g. NoUtterancesError)
            if type(e).__module__.split(".")[0] != "pesq":
                raise
    return out
