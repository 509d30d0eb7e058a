"""The dual-resolution tokenizer: a 12.5 Hz content stream (the shipped 12.5 Hz model's own first
stages) plus a 25 Hz residual of the cepstra that an LM may skip."""

import math

import numpy as np
import pytest
import torch

import speechtok
from speechtok.codec.sourcefilter import dual
from speechtok.errors import SpeechtokError


@pytest.fixture(scope="module")
def tok():
    return speechtok.load("speechtok-dual-12p5hz")


@pytest.fixture(scope="module")
def english(speech_clips):
    return next(w for name, w, sr in speech_clips if name.startswith("en_"))


def test_codebooks_are_content_then_the_two_halves_of_each_residual_stage(tok, english):
    t = tok.encode(english, 16000)
    c = tok.content_stages
    assert t.frame_rate == 12.5 and t.codes.shape == (1 + c + 2, math.ceil(len(english) / 1280))
    assert tok.streams == ["pitch"] + ["content"] * c + ["residual@25hz"] * 2
    assert t.extra["streams"] == tok.streams and len(t.extra["envelope_mean"]) == 16
    assert all(0 <= t.codes[k].min() and t.codes[k].max() < n for k, n in enumerate(tok.codebook_sizes))
    # the content rows are the base model's own codes at the same number of stages
    base = speechtok.load("speechtok-fast-12p5hz").with_codebooks(1 + c).encode(english, 16000)
    assert np.array_equal(t.codes[: 1 + c], base.codes)
    # the two residual rows code different halves: they differ on most frames
    assert (t.codes[1 + c] != t.codes[2 + c]).mean() > 0.5


def test_the_residual_halves_bring_the_features_closer(tok, english):
    _, codes, _, halves = dual.content_and_residual(tok.codec, english, tok.content_stages)
    rec = tok.residual.decode(tok.residual.encode(halves))
    assert float(((halves - rec) ** 2).mean()) < 0.8 * float((halves**2).mean())


def test_decoding_with_and_without_the_residual(tok, english):
    t = tok.encode(english, 16000)
    wav, sr = tok.decode(t)
    assert sr == 16000 and wav.shape == english.shape and np.isfinite(wav).all() and wav.std() > 1e-3
    content = tok.with_codebooks(1 + tok.content_stages)
    assert content.name == "speechtok-dual-12p5hz+codebooks=3" and content.streams == ["pitch", "content", "content"]
    tc = content.encode(english, 16000)
    assert np.array_equal(tc.codes, t.codes[: 1 + tok.content_stages])
    # content only decodes as the base model does at that rate (its refiner included)
    base = speechtok.load("speechtok-fast-12p5hz").with_codebooks(1 + tok.content_stages)
    assert np.allclose(content.decode(tc)[0], base.decode(base.encode(english, 16000))[0], atol=1e-6)
    # the residual is audible: the two decodings differ
    assert float(np.abs(content.decode(tc)[0] - wav).mean()) > 1e-4


def test_codebook_counts_must_keep_whole_residual_stages(tok):
    with pytest.raises(SpeechtokError, match="codebooks must be"):
        tok.with_codebooks(1 + tok.content_stages + 1)
    assert dual.resolve("speechtok-dual-6hz") is None
    assert "speechtok-dual-12p5hz" in speechtok.available()


def test_a_missing_residual_says_how_to_fit_it(tmp_path):
    with pytest.raises(SpeechtokError, match="python -m speechtok.codec.sourcefilter.dual"):
        dual.DualResolutionTokenizer(path=tmp_path / "none.safetensors")
