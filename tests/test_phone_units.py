"""Phone-unit tokens (speechtok/syllables/phone_units.py): the label smoothing against brute force,
runs, the tokens of the shipped English clip, and the shipped decoder speaking them back."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from speechtok.syllables.phone_units import PhoneUnitTokenizer, runs, smooth_labels


def _objective(log_post, path, cost):
    return sum(log_post[t, k] for t, k in enumerate(path)) - cost * sum(a != b for a, b in zip(path, path[1:]))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cost", [0.0, 0.7, 3.0])
def test_smooth_labels_finds_the_best_path(seed, cost):
    rng = np.random.default_rng(seed)
    lp = np.log(rng.dirichlet(np.ones(3), size=6))
    path = smooth_labels(lp, cost)
    best = max(_objective(lp, p, cost) for p in itertools.product(range(3), repeat=6))
    assert _objective(lp, list(path), cost) == pytest.approx(best)
    if cost == 0.0:
        assert (path == lp.argmax(1)).all()


def test_smooth_labels_removes_a_one_frame_flicker_and_keeps_a_long_run():
    p = np.full((12, 3), 0.05)
    p[:, 0] = 0.9
    p[5] = [0.4, 0.55, 0.05]  # one frame barely prefers label 1
    p[8:] = [0.05, 0.05, 0.9]  # a real change to label 2
    lp = np.log(p)
    assert list(runs(smooth_labels(lp, 0.0))) == [(0, 0, 5), (1, 5, 6), (0, 6, 8), (2, 8, 12)]
    assert list(runs(smooth_labels(lp, 2.0))) == [(0, 0, 8), (2, 8, 12)]
    assert runs(np.zeros(0, np.int64)) == [] and len(smooth_labels(np.zeros((0, 3)), 1.0)) == 0


def _english_clip():
    from speechtok.audio import load_audio
    from speechtok.data import shipped_clips

    clip = next(c for c in shipped_clips() if c.language.startswith("en"))
    wav, _ = load_audio(clip.path, 16000)
    return np.asarray(wav, np.float32)


def _phones(codes) -> list[int]:
    return [int(c) for c in np.asarray(codes)[0] if c < 39]


def _edit(a, b) -> int:
    d = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return d[-1]


def test_tokens_of_the_english_clip():
    import speechtok
    from speechtok.syllables.codes import duration_value

    wav = _english_clip()
    tok = speechtok.load("phone-units")
    assert isinstance(tok, PhoneUnitTokenizer) and tok.codebook_sizes == (40, 16, 33)
    tokens = tok.encode(wav, 16000)
    codes = np.asarray(tokens.codes)
    seconds = len(wav) / 16000
    assert codes.shape[0] == 3 and ((codes >= 0) & (codes < np.array(tok.codebook_sizes)[:, None])).all()
    phones = _phones(codes)
    assert 6 < len(phones) / seconds < 16  # read speech: about 10 phones a second
    assert len(set(phones)) > 12  # not one unit repeated
    # pauses carry no pitch; the durations add up to the audio (each code within its 30% step)
    assert (codes[2][codes[0] == 39] == 0).all()
    assert abs(duration_value(codes[1]).sum() - seconds) < 0.2 * seconds
    # a larger switch cost gives fewer, longer runs; none gives the raw argmax's flicker
    fewer = PhoneUnitTokenizer(switch_cost=6.0).encode(wav, 16000)
    raw = PhoneUnitTokenizer(switch_cost=0.0).encode(wav, 16000)
    n = [np.asarray(t.codes).shape[1] for t in (fewer, tokens, raw)]
    assert n[0] <= n[1] <= n[2] and n[0] < n[2]


def test_shipped_decoder_says_the_phones_back():
    import speechtok

    tok = speechtok.load("phone-units")
    if not tok.can_decode:
        pytest.skip("no trained phone-unit decoder in speechtok/assets/syllables")
    wav = _english_clip()
    tokens = tok.encode(wav, 16000)
    out, sr = tok.decode(tokens)
    assert sr == 16000 and out.dtype == np.float32 and len(out) == len(wav) and np.isfinite(out).all()
    # the teacher hears most of the same phones in the resynthesis (a decoder that mumbles fails)
    a, b = _phones(tokens.codes), _phones(tok.encode(out, 16000).codes)
    assert _edit(a, b) / len(a) < 0.6, (a, b)
