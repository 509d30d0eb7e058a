"""phone-units with a transformers phoneme CTC model as the teacher (speechtok/syllables/hf_phone_units.py):
the CTC frame labelling on hand-made posteriors, and the tokenizer end to end on a small random
wav2vec2 CTC model saved to a folder and loaded by name (no download)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import speechtok
from speechtok.audio import load_audio
from speechtok.data import shipped_clips
from speechtok.errors import SpeechtokError
from speechtok.syllables.hf_phone_units import HFPhoneUnitTokenizer, ctc_frame_labels, quiet_frames
from speechtok.syllables.phone_units import runs

transformers = pytest.importorskip("transformers")

VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", "a", "b", "k", "i"]
BLANK = 0
LABEL_OF = np.array([0, 0, 0, 0, 0, 1, 2, 3, 4])  # a b k i -> 1..4


def _posteriors(best: list[int]) -> np.ndarray:
    lp = np.full((len(best), len(VOCAB)), -10.0)
    lp[np.arange(len(best)), best] = 0.0
    return lp


def test_ctc_labels_run_from_spike_to_spike_and_pause_only_on_long_quiet():
    #        0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26
    best = [0, 0, 0, 5, 0, 0, 5, 6, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0]
    quiet = np.zeros(len(best), bool)
    quiet[0:3] = True    # leading silence
    quiet[10:12] = True  # a 40 ms closure: stays inside the phone
    quiet[15:23] = True  # a 160 ms pause
    labels = ctc_frame_labels(_posteriors(best), BLANK, LABEL_OF, quiet, min_silence_frames=5)
    assert runs(labels) == [
        (0, 0, 3),    # silence before the first spike
        (1, 3, 7),    # a (spike at 3; the second spike of a at 6 is a repeat: one run)
        (2, 7, 12),   # b, through the short quiet stretch
        (1, 12, 15),  # a
        (0, 15, 25),  # the pause, and the frames after it up to the next spike
        (3, 25, 27),  # k
    ]


def test_a_spike_inside_a_pause_starts_its_phone_where_the_pause_ends():
    best = [5, 0, 0, 0, 0, 0, 6, 0, 0, 0]
    quiet = np.array([0, 0, 1, 1, 1, 1, 1, 1, 0, 0], bool)
    labels = ctc_frame_labels(_posteriors(best), BLANK, LABEL_OF, quiet, min_silence_frames=3)
    assert runs(labels) == [(1, 0, 2), (0, 2, 8), (2, 8, 10)]


def test_quiet_frames_follow_the_level():
    wav = np.concatenate([np.zeros(3200), 0.5 * np.sin(np.arange(6400) * 0.3), 1e-4 * np.ones(3200)]).astype(np.float32)
    q = quiet_frames(wav, len(wav) // 320)
    assert q[:10].all() and not q[10:30].any() and q[30:].all()


@pytest.fixture(scope="module")
def ctc_folder(tmp_path_factory):
    """A small random wav2vec2 CTC model with a phone vocabulary, saved as a hub folder is."""
    import torch
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    folder = tmp_path_factory.mktemp("ctc")
    (folder / "vocab.json").write_text(json.dumps({v: i for i, v in enumerate(VOCAB)}))
    tok = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), pad_token="<pad>", word_delimiter_token="|")
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, do_normalize=True)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(folder)
    torch.manual_seed(0)
    cfg = Wav2Vec2Config(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, conv_dim=(16,) * 7, pad_token_id=0,
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    Wav2Vec2ForCTC(cfg).save_pretrained(folder)
    return folder


def test_tokenizer_loads_by_name_and_encodes_phone_runs(ctc_folder):
    tok = speechtok.load(f"phone-units:hf:{ctc_folder}")
    assert isinstance(tok, HFPhoneUnitTokenizer)
    assert tok.phones == ["a", "b", "k", "i"] and tok.codebook_sizes[0] == 5 and tok.pause_code == 4
    wav, sr = load_audio(shipped_clips()[0].path, 16000)
    lp = tok.log_posteriors(wav)
    assert lp.shape == (-(-len(wav) // 320), len(VOCAB))
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, atol=1e-4)
    t = tok.encode(wav, sr)
    assert t.codes.shape[0] == 3 and t.num_frames > 0
    assert t.codes[0].min() >= 0 and t.codes[0].max() <= tok.pause_code
    assert t.codes[1].max() < tok.codebook_sizes[1] and t.codes[2].max() < tok.codebook_sizes[2]
    assert t.tokenizer == tok.name and tok.encode(wav, sr) == t  # deterministic
    # the tokens' spans tile the clip: their durations add up to its length
    spans = tok.spans(wav)
    assert spans[0][0] == 0.0 and spans[-1][1] == pytest.approx(len(wav) / sr)
    assert not tok.can_decode
    with pytest.raises(NotImplementedError, match="encode-only"):
        tok.decode(t)


@pytest.mark.parametrize("samples", [321, 400, 16001, 16319, 16320])
def test_one_posterior_row_per_20_ms_frame_from_the_model_itself(ctc_folder, samples):
    tok = speechtok.load(f"phone-units:hf:{ctc_folder}")
    wav = (np.random.default_rng(samples).standard_normal(samples) * 0.1).astype(np.float32)
    assert tok.log_posteriors(wav).shape == (-(-samples // 320), len(VOCAB))  # else it raises


def test_long_inputs_go_in_chunks_that_join_exactly(ctc_folder, monkeypatch):
    import speechtok.syllables.hf_phone_units as hf

    tok = speechtok.load(f"phone-units:hf:{ctc_folder}")
    wav = (np.random.default_rng(0).standard_normal(40000) * 0.1).astype(np.float32)
    whole = tok.log_posteriors(wav)
    # chunks whose context reaches over the whole clip run the very same input: equal rows
    monkeypatch.setattr(hf, "CHUNK_SECONDS", 0.5)
    monkeypatch.setattr(hf, "CONTEXT_SECONDS", 3.0)
    np.testing.assert_allclose(tok.log_posteriors(wav), whole, atol=1e-5)
    # short context: every frame still gets one row, each a distribution
    monkeypatch.setattr(hf, "CONTEXT_SECONDS", 0.2)
    short = tok.log_posteriors(wav)
    assert short.shape == whole.shape
    np.testing.assert_allclose(np.exp(short).sum(1), 1.0, atol=1e-4)


def test_the_token_cache_key_follows_the_weights(ctc_folder):
    from transformers import Wav2Vec2ForCTC

    a = HFPhoneUnitTokenizer(Wav2Vec2ForCTC.from_pretrained(ctc_folder), VOCAB, BLANK)
    model = Wav2Vec2ForCTC.from_pretrained(ctc_folder)
    with __import__("torch").no_grad():
        model.lm_head.bias.add_(0.01)
    b = HFPhoneUnitTokenizer(model, VOCAB, BLANK)
    assert a.version != b.version and a.version == HFPhoneUnitTokenizer(Wav2Vec2ForCTC.from_pretrained(ctc_folder), VOCAB, BLANK).version


def test_a_vocabulary_that_does_not_fit_the_model_is_refused(ctc_folder):
    from transformers import Wav2Vec2ForCTC

    model = Wav2Vec2ForCTC.from_pretrained(ctc_folder)
    with pytest.raises(SpeechtokError, match="outputs but the vocabulary"):
        HFPhoneUnitTokenizer(model, VOCAB[:-1], BLANK)
    with pytest.raises(SpeechtokError, match="no phones"):
        HFPhoneUnitTokenizer(model, ["<pad>"] + ["|"] * (len(VOCAB) - 1), BLANK)


def test_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(SpeechtokError, match="could not load"):
        speechtok.load(f"phone-units:hf:{tmp_path / 'nothing-here'}")
