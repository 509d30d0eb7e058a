"""Adapters for other projects' tokenizers, exercised with random weights built from each real
architecture's config (shrunk where the config allows it). No network, no downloads."""

from __future__ import annotations

import numpy as np
import pytest

from speechtok.errors import MissingDependencyError
from speechtok.tokenizers import external as E
from speechtok.tokens import Tokens

SMALL = {
    "encodec@24khz:6kbps": dict(hidden_size=32, num_filters=8, num_lstm_layers=1),
    "dac@16khz": dict(encoder_hidden_size=8, decoder_hidden_size=32),
    "dac@44khz:4q": dict(encoder_hidden_size=8, decoder_hidden_size=32),
    "mimi": dict(hidden_size=64, num_filters=8, num_hidden_layers=1, intermediate_size=64, num_attention_heads=2,
                 num_key_value_heads=2, head_dim=32, codebook_dim=32, vector_quantization_hidden_dimension=32,
                 upsample_groups=64),
    "snac@24khz": dict(encoder_dim=8, decoder_dim=32),
    "snac@32khz": dict(encoder_dim=4, decoder_dim=64),  # its local attention needs width 64 (one head)
    "speechtokenizer": dict(n_filters=8, dimension=64, semantic_dimension=32, lstm_layers=1),
}
#: (sample rate, frames per second, codebooks) of the real models, which the names promise
FACTS = {
    "encodec@24khz:6kbps": (24000, 75.0, 8),
    "dac@16khz": (16000, 50.0, 12),
    "dac@44khz:4q": (44100, 44100 / 512, 4),
    "mimi": (24000, 12.5, 8),
    "snac@24khz": (24000, 24000 / 2048, 7),
    "snac@32khz": (32000, 32000 / 3072, 15),
    "speechtokenizer": (16000, 50.0, 8),
}


def _speechish(seconds=1.3, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.mark.parametrize("name", list(SMALL))
def test_random_weight_round_trip(name):
    pytest.importorskip("snac" if name.startswith("snac") else "transformers")
    import torch

    torch.manual_seed(0)
    tok = E.build(name, pretrained=False, config=SMALL[name])
    assert (tok.sample_rate, tok.num_codebooks) == FACTS[name][::2]
    assert tok.frame_rate == pytest.approx(FACTS[name][1])
    wav = _speechish()
    tokens = tok.encode(wav, 16000)
    assert tokens.tokenizer == name and tokens.num_codebooks == tok.num_codebooks
    # frames: about duration × frame rate (models pad to whole frames or whole windows)
    assert abs(tokens.num_frames - 1.3 * tok.frame_rate) <= 2 + (8 if name.startswith("snac@32") else 0)
    assert Tokens.from_bytes(tokens.to_bytes()) == tokens  # valid codes survive the file format
    out, sr = tok.decode(tokens)
    assert sr == tok.sample_rate and out.shape == (int(round(1.3 * tok.sample_rate)),) and np.isfinite(out).all()
    assert tok.encode_batch([wav, wav[:8000]], 16000)[0] == tokens


@pytest.mark.parametrize("name,config", [("s3tokenizer", dict(n_audio_state=128, n_audio_head=2, n_audio_layer=1)),
                                         ("s3tokenizer@v1", dict(n_audio_state=64, n_audio_head=2, n_audio_layer=1))])
def test_s3tokenizer_is_encode_only(name, config):
    pytest.importorskip("onnx")
    tok = E.build(name, pretrained=False, config=config)
    tokens = tok.encode(_speechish(1.0), 16000)
    assert not tok.can_decode and tokens.num_codebooks == 1
    assert tokens.num_frames == pytest.approx(tok.frame_rate, abs=1)
    with pytest.raises(NotImplementedError, match="encode-only"):
        tok.decode(tokens)


def test_names_parse_and_bad_settings_are_clear():
    assert set(E.names()) >= {"encodec@24khz:1.5kbps", "dac@16khz", "mimi", "snac@24khz", "speechtokenizer", "s3tokenizer"}
    assert E.family_of("opus@6kbps") is None and E.resolve("opus@6kbps") is None
    with pytest.raises(ValueError, match="bandwidth must be one of"):
        E.build("encodec@24khz:5kbps", pretrained=False)
    with pytest.raises(ValueError, match="unknown variant"):
        E.build("dac@8khz", pretrained=False)
    with pytest.raises(ValueError, match="number of codebooks"):
        E.build("mimi:lots", pretrained=False)


def test_missing_weights_give_a_clear_error(monkeypatch):
    pytest.importorskip("transformers")
    import huggingface_hub.constants as hf

    # as on a machine without network and with an empty cache (read at call time, not import time)
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf, "HF_HUB_CACHE", "/nonexistent-speechtok-test")
    with pytest.raises(MissingDependencyError, match="pretrained weights 'facebook/encodec_24khz'"):
        E.build("encodec@24khz:1.5kbps")


def test_random_weights_speed_only_cli(tmp_path):
    from speechtok.cli import main

    rc = main(["bench", "--speed-only", "-t", "dac@16khz", "--random-weights", "--threads", "1",
               "--seconds", "1", "--repeats", "1", "--out", str(tmp_path)])
    assert rc == 0
    import json

    r = json.loads((tmp_path / "speed.json").read_text())[0]
    assert r["weights"] == "random" and r["threads"] == 1 and r["encode_rtf"] > 0 and r["decode_rtf"] > 0
