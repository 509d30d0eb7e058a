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


def test_an_ensemble_teacher_is_its_members_geometric_mean(tmp_path):
    import json

    import torch

    from speechtok.errors import SpeechtokError
    from speechtok.syllables.tokenizer import phone_posteriors, teacher_digest, teacher_members
    from speechtok.teachers.phone_ctc import PhoneCTC, PhoneCTCConfig

    wav = _english_clip()[:32000]
    for i, dim in enumerate((16, 24)):  # two small random teachers of different widths
        torch.manual_seed(i)
        PhoneCTC(PhoneCTCConfig(dim=dim, conv_blocks=1, gru_layers=1)).save(tmp_path / f"m{i}")
    ens = tmp_path / "ens"
    ens.mkdir()
    (ens / "ensemble.json").write_text(json.dumps({"members": ["../m0", "../m1"]}))
    assert teacher_members(ens) == [(tmp_path / "m0").resolve(), (tmp_path / "m1").resolve()]
    single = [phone_posteriors(wav, tmp_path / f"m{i}") for i in range(2)]
    mean = np.exp((np.log(single[0]) + np.log(single[1])) / 2)
    got = phone_posteriors(wav, ens)
    assert got.shape == single[0].shape and np.allclose(got.sum(1), 1, atol=1e-5)
    assert np.allclose(got, mean / mean.sum(1, keepdims=True), atol=1e-5)
    assert len({teacher_digest(tmp_path / "m0"), teacher_digest(tmp_path / "m1"), teacher_digest(ens)}) == 3
    tok = PhoneUnitTokenizer(teacher=ens)  # a folder teacher: encode-only, its own model id
    assert tok.model_id.startswith(teacher_digest(ens)) and not tok.can_decode
    assert np.asarray(tok.encode(wav, 16000).codes).shape[0] == 3
    (ens / "ensemble.json").write_text(json.dumps({"members": ["../m0", "../nowhere"]}))
    with pytest.raises(SpeechtokError, match="nowhere.*model.safetensors.*missing"):
        teacher_members(ens)
    (ens / "ensemble.json").write_text("[1, 2]")
    with pytest.raises(SpeechtokError, match="ensemble.json: not an ensemble spec"):
        teacher_members(ens)


def test_the_shipped_ensemble_v7_is_registered_and_differs_from_its_members():
    import speechtok
    from speechtok.syllables.phone_units import names

    assert {"phone-units:v5", "phone-units:v6", "phone-units:v7"} <= set(names())
    v7 = speechtok.load("phone-units:v7")
    assert v7.model_id != speechtok.load("phone-units:v6").model_id
    phones = _phones(v7.encode(_english_clip(), 16000).codes)
    assert len(phones) > 10 and len(set(phones)) > 12
