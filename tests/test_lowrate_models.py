"""The shipped low-rate source-filter models (issue 18): speechtok-fast-12p5hz and speechtok-fast-6p25hz
on the four shipped real clips (en, es, fr, it): token shapes at their frame rates, measured bitrates
near the nominal ones, and STOI floors of the decoded audio (set about 0.07 under what the models
gave when they shipped; the intelligibility figures are in benchmarks/lowrate/results.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import speechtok
from speechtok.audio import load_audio
from speechtok.data import shipped_clips
from speechtok.eval.metrics import perceptual


@pytest.fixture(scope="module")
def clips():
    return [load_audio(c.path, 16000) for c in shipped_clips()]


@pytest.mark.parametrize("name,rate,codebooks,kbps,floor", [
    ("speechtok-fast-12p5hz@0.5kbps", 12.5, 4, 0.5, 0.68),
    ("speechtok-fast-6p25hz", 6.25, 6, 0.3875, 0.6),
    ("speechtok-fast-6p25hz@0.25kbps", 6.25, 4, 0.25, 0.57),
])
def test_low_rate_models_round_trip_real_clips(clips, name, rate, codebooks, kbps, floor):
    tok = speechtok.load(name)
    assert tok.frame_rate == rate and tok.num_codebooks == codebooks
    assert tok.bitrate == pytest.approx(kbps * 1000, rel=0.01)
    scores = []
    for wav, sr in clips:
        t = tok.encode(wav, sr)
        assert t.codes.shape == (codebooks, math.ceil(len(wav) / sr * rate))
        # the measured rate adds the utterance's envelope mean (96 bits) to the nominal one
        assert kbps * 1000 < t.bitrate < kbps * 1000 + 96 / (len(wav) / sr) + 30
        y, out_sr = tok.decode(t)
        assert out_sr == 16000 and len(y) == len(wav) and np.isfinite(y).all()
        scores.append(perceptual.stoi(wav.astype(np.float64), y.astype(np.float64), 16000))
    assert min(scores) > floor, scores


def test_more_stages_decode_closer_at_6p25hz(clips):
    full, part = speechtok.load("speechtok-fast-6p25hz"), speechtok.load("speechtok-fast-6p25hz@0.1125kbps")
    score = {}
    for tok in (full, part):
        score[tok.name] = np.mean([perceptual.stoi(w.astype(np.float64), tok.decode(tok.encode(w, sr))[0].astype(np.float64), 16000)
                                 for w, sr in clips])
    assert score[full.name] > score[part.name] + 0.03, score
