"""Statistics measured from the codes a tokenizer actually produced (never from its declared rate).

Per utterance: ``frames_per_s``, ``codebooks``, ``tokens_per_s``, ``kbps`` (codes × log2(codebook
size) / seconds: the nominal rate of the codes actually produced).

Over the whole data set (rows with ``utt = "*"``), from pooled code counts:
- ``entropy_kbps``: Σ_k H_k × frames/s / 1000, with H_k the empirical (unigram) entropy in bits of
  codebook k — the rate an ideal per-codebook entropy coder would reach;
- ``usage_pct/cbK``: percentage of codebook K's entries that occur at least once;
- ``perplexity/cbK``: 2^H_K, the effective number of equally likely codes.
"""

from __future__ import annotations

import numpy as np

from ..tokens import Tokens


def utterance_stats(tokens: Tokens) -> dict[str, float]:
    return {
        "frames_per_s": tokens.num_frames / tokens.duration,
        "codebooks": float(tokens.num_codebooks),
        "tokens_per_s": tokens.tokens_per_second,
        "kbps": tokens.bitrate / 1000.0,
    }


def entropy_bits(counts: np.ndarray) -> float:
    """Shannon entropy (bits) of the distribution given by ``counts`` (1-D, non-negative)."""
    c = np.asarray(counts, dtype=np.float64)
    total = c.sum()
    if total <= 0:
        return 0.0
    p = c[c > 0] / total
    return float(-(p * np.log2(p)).sum())


class CodeCounter:
    """Pools code counts per codebook over many ``Tokens`` of one tokenizer."""

    def __init__(self):
        self.counts: list[np.ndarray] = []
        self.frames = 0
        self.seconds = 0.0

    def add(self, tokens: Tokens) -> None:
        if not self.counts:
            self.counts = [np.zeros(s, dtype=np.int64) for s in tokens.codebook_sizes]
        for k, size in enumerate(tokens.codebook_sizes[: len(self.counts)]):
            self.counts[k] += np.bincount(tokens.codes[k], minlength=size)[:size]
        self.frames += tokens.num_frames
        self.seconds += tokens.duration

    def stats(self) -> dict[str, float]:
        if not self.counts or self.seconds <= 0:
            raise ValueError("no tokens counted")
        frame_rate = self.frames / self.seconds
        out: dict[str, float] = {}
        total_h = 0.0
        for k, c in enumerate(self.counts):
            h = entropy_bits(c)
            total_h += h
            out[f"usage_pct/cb{k}"] = 100.0 * np.count_nonzero(c) / len(c)
            out[f"perplexity/cb{k}"] = 2.0 ** h
        out["entropy_kbps"] = total_h * frame_rate / 1000.0
        return out

