"""Token statistics measured from hand-made codes."""

from __future__ import annotations

import numpy as np
import pytest

from speechtok.eval.token_stats import CodeCounter, entropy_bits, utterance_stats
from speechtok.tokens import Tokens


def make(codes, sizes=(4, 2), frame_rate=2.0, seconds=2.0, sr=16000):
    return Tokens(codes=np.array(codes), tokenizer="t", tokenizer_version="1", frame_rate=frame_rate,
                  codebook_sizes=sizes, num_samples=int(seconds * sr), sample_rate=sr)


def test_utterance_stats_are_measured_from_the_codes():
    s = utterance_stats(make([[0, 1, 2, 3], [0, 0, 0, 0]]))  # 4 frames in 2 s
    assert s == {"frames_per_s": 2.0, "codebooks": 2.0, "tokens_per_s": 4.0, "kbps": 2.0 * (2 + 1) / 1000}


def test_entropy_bits():
    assert entropy_bits(np.array([1, 1, 1, 1])) == 2.0
    assert entropy_bits(np.array([5, 0, 0])) == 0.0
    assert entropy_bits(np.array([1, 3])) == pytest.approx(-(0.25 * np.log2(0.25) + 0.75 * np.log2(0.75)))


def test_pooled_entropy_usage_and_perplexity():
    c = CodeCounter()
    c.add(make([[0, 1, 2, 3], [0, 0, 0, 0]]))
    c.add(make([[0, 1, 2, 3], [0, 0, 0, 0]]))
    s = c.stats()
    # codebook 0 uniform over 4 codes (2 bits), codebook 1 constant (0 bits); 2 frames/s
    assert s["entropy_kbps"] == pytest.approx(2 * 2 / 1000)
    assert s["usage_pct/cb0"] == 100.0 and s["usage_pct/cb1"] == 50.0
    assert s["perplexity/cb0"] == pytest.approx(4.0) and s["perplexity/cb1"] == 1.0


def test_pooled_stats_need_tokens():
    with pytest.raises(ValueError, match="no tokens"):
        CodeCounter().stats()
