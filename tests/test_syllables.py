"""Syllable tokens (speechtok/syllables): segmenter, syllabification, boundary scores, tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from speechtok.syllables.segment import segment
from speechtok.syllables.syllabify import (boundaries, boundary_scores, reference_syllables, scores_from_counts,
                                           syllabify)
from speechtok.syllables.tokenizer import duration_code, duration_value, pitch_code, pitch_value, token_spans

SR = 16000


def syllable_train(seed: int, n: int = 12):
    """Harmonic bursts (F0 120-240 Hz) with raised-cosine envelopes, 80-300 ms long, separated by
    dips to -30 dB of 30-80 ms, with silence around: returns (wav, the true boundaries)."""
    rng = np.random.default_rng(seed)
    parts, bounds, t = [np.zeros(int(0.3 * SR))], [], 0.3
    for i in range(n):
        dur = rng.uniform(0.08, 0.30)
        m = int(dur * SR)
        f0 = rng.uniform(120, 240)
        tt = np.arange(m) / SR
        tone = sum(np.sin(2 * np.pi * h * f0 * tt) / h for h in range(1, 15))
        env = np.maximum(np.sin(np.pi * (np.arange(m) + 0.5) / m) ** 2 * rng.uniform(0.5, 1.0), 0.03)
        parts.append((tone * env * 0.1).astype(np.float32))
        bounds.append(t) if i == 0 else None
        t += dur
        if i < n - 1:
            gap = rng.uniform(0.03, 0.08)
            g = int(gap * SR)
            tg = np.arange(g) / SR
            parts.append((np.sin(2 * np.pi * f0 * tg) * 0.1 * 0.03).astype(np.float32))  # the dip, at -30 dB
            bounds.append(t + gap / 2)  # the middle of the dip
            t += gap
    bounds.append(t)
    parts.append(np.zeros(int(0.3 * SR)))
    wav = np.concatenate(parts).astype(np.float32)
    wav += np.random.default_rng(seed + 1).standard_normal(len(wav)).astype(np.float32) * 1e-4
    return wav, bounds


def test_segmenter_finds_synthetic_syllables():
    counts = {0.02: [0, 0, 0], 0.05: [0, 0, 0]}
    for seed in range(6):
        wav, truth = syllable_train(seed)
        segs = segment(wav)
        assert len(segs) == 12  # one per burst
        assert all(0 <= a < b <= len(wav) / SR for a, b in segs)
        assert all(b1 <= a2 for (_, b1), (a2, _) in zip(segs[:-1], segs[1:]))
        for tol, c in counts.items():
            s = boundary_scores(truth, boundaries(segs), tolerance=tol)
            c[0], c[1], c[2] = c[0] + s["hits"], c[1] + s["num_ref"], c[2] + s["num_hyp"]
    # measured: 0.83 at 20 ms (the dips are found to 10 ms; the smoothed envelope puts the
    # outer edges of a train 20-35 ms early/late), 1.0 at 50 ms
    assert scores_from_counts(*counts[0.02])["f1"] >= 0.8
    assert scores_from_counts(*counts[0.05])["f1"] >= 0.95


def test_segmenter_on_silence_and_tiny_input():
    assert segment(np.zeros(SR, np.float32)) == []
    assert segment(np.zeros(10, np.float32)) == []


def test_syllabify_by_maximal_onset():
    def split(s):
        ph = s.split()
        return [" ".join(ph[i] for i in idx) for idx in syllabify(ph)]

    assert split("AE K T AH V EY T IH D") == ["AE K", "T AH", "V EY", "T IH D"]  # activated: K T is no onset
    assert split("EH K S T R AH") == ["EH K", "S T R AH"]  # extra: S T R is
    assert split("K AE T") == ["K AE T"]
    assert split("HH AH0 L OW1") == ["HH AH0", "L OW1"]  # stress digits are fine
    assert split("IH N F AO R M") == ["IH N", "F AO R M"]
    assert split("S T") == ["S T"]  # no vowel: one syllable
    assert syllabify([]) == []


def test_reference_syllables_follow_words_and_skip_silence():
    phones = [["SIL", 0.0, 0.1], ["TH", 0.1, 0.15], ["AE", 0.15, 0.3], ["NG", 0.3, 0.4], ["K", 0.4, 0.45],
              ["Y", 0.45, 0.5], ["UW", 0.5, 0.7], ["SIL", 0.7, 0.9]]
    words = [["<sil>", 0.0, 0.1], ["thank", 0.1, 0.45], ["you", 0.45, 0.7], ["<sil>", 0.7, 0.9]]
    syl = reference_syllables(phones, words)
    assert [(s.label, s.start, s.end, s.nucleus) for s in syl] == [
        ("TH-AE-NG-K", 0.1, 0.45, "AE"), ("Y-UW", 0.45, 0.7, "UW")]  # NG K stays: the word ends
    assert boundaries(syl) == [0.1, 0.45, 0.7]


def test_boundary_scores_on_a_hand_made_case():
    ref = [0.10, 0.30, 0.50, 0.70]
    hyp = [0.11, 0.34, 0.36, 0.90]  # 0.11 hits; 0.34 hits 0.30 at 50 ms only; 0.36 is one too many
    s50 = boundary_scores(ref, hyp, 0.05)
    assert (s50["hits"], s50["precision"], s50["recall"]) == (2, 0.5, 0.5)
    assert s50["f1"] == pytest.approx(0.5) and s50["os"] == pytest.approx(0.0)
    s20 = boundary_scores(ref, hyp, 0.02)
    assert s20["hits"] == 1 and s20["f1"] == pytest.approx(0.25)
    perfect = boundary_scores(ref, ref, 0.02)
    assert perfect["f1"] == 1.0 and perfect["r_value"] == pytest.approx(1.0)
    assert boundary_scores(ref, [], 0.05)["f1"] == 0.0
    # one hypothesis cannot hit two references
    assert boundary_scores([0.10, 0.12], [0.11], 0.05)["hits"] == 1


def test_code_streams_round_trip():
    d = np.array([0.02, 0.05, 0.2, 1.0, 3.0])
    c = duration_code(d)
    assert c.tolist()[0] == 0 and c.max() == 15 and (np.diff(c) >= 0).all()
    assert np.allclose(duration_value(c[:4]), d[:4], rtol=0.15)
    f = np.array([0.0, 55.0, 100.0, 220.0, 500.0])
    p = pitch_code(f)
    assert p[0] == 0 and p[1] == 1 and p[-1] == 32
    assert np.allclose(pitch_value(p[2:4]), f[2:4], rtol=0.04)  # about a semitone apart


def test_token_spans_tile_the_audio():
    spans = token_spans([(0.01, 0.2), (0.2, 0.4), (1.0, 1.3), (2.6, 2.8)], 3.0)
    assert spans[0] == (0.0, 0.2, False)  # a 10 ms lead-in joins the first syllable
    assert [p for *_, p in spans] == [False, False, True, False, True, True, False, True]
    assert spans[-1] == pytest.approx((2.8, 3.0, True))
    assert all(b - a <= 1.0 + 1e-9 for a, b, _ in spans)
    assert all(abs(s1[1] - s2[0]) < 1e-9 for s1, s2 in zip(spans[:-1], spans[1:]))


def test_tokenizer_on_a_shipped_clip():
    import speechtok
    from speechtok.audio import load_audio
    from speechtok.data import shipped_clips

    tok = speechtok.load("syllables")
    assert tok.name == "syllables" and tok.codebook_sizes == (1025, 16, 33)
    assert "syllables" in speechtok.available()
    clip = next(c for c in shipped_clips() if c.language.startswith("en"))
    wav, sr = load_audio(clip.path)
    tokens = tok.encode(wav, sr)
    codes = tokens.codes
    assert codes.shape[0] == 3 and codes.shape[1] >= 3
    assert (codes.min(1) >= 0).all() and (codes.max(1) < np.array(tok.codebook_sizes)).all()
    syl = codes[0] != tok.pause_code
    # durations (decoded from their codes) add up to the syllables' speech time, within the
    # quantiser's ±15% per token
    _, spans = tok.codes_and_spans(wav.astype(np.float32))
    speech = sum(b - a for a, b, p in spans if not p)
    assert sum(b - a for a, b, _ in spans) == pytest.approx(len(wav) / sr, abs=1e-6)
    assert duration_value(codes[1, syl]).sum() == pytest.approx(speech, rel=0.15)
    assert 0.5 * len(wav) / sr < speech <= len(wav) / sr
    assert (codes[2, syl] > 0).mean() > 0.5  # most syllables voiced
    assert 1.5 < syl.sum() / (len(wav) / sr) < 7  # a plausible syllable rate
    from speechtok.tokenizers.registry import describe

    assert describe("syllables")["codebook_sizes"] == [1025, 16, 33]
