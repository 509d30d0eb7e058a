"""Our codec: shapes for every frame rate and quantizer, bitrates, streaming, training, save/load."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import speechtok
from speechtok.codec.config import codec_config_from_dict, run_config_from_dict
from speechtok.codec.model import Codec
from speechtok.codec.pretrained import CodecTokenizer, load_run
from speechtok.codec.streaming import StreamingCodec
from speechtok.train.loop import Trainer, export_weights

STRIDES = {50: [2, 2, 2], 25: [2, 2, 2, 2], 12.5: [2, 2, 2, 2, 2], 6.25: [2, 2, 2, 2, 2, 2]}


def tiny(frame_rate=50, kind="rvq", causal=False, upsample="transposed", nq=3):
    strides = STRIDES[frame_rate]
    return codec_config_from_dict(
        {
            "frame_rate": frame_rate,
            "causal": causal,
            "encoder": {"dims": [16] * (len(strides) + 1), "strides": strides, "blocks_per_stage": 1, "latent_dim": 32},
            "quantizer": {"kind": kind, "codebook_size": 64, "num_quantizers": nq, "codebook_dim": 8, "levels": [5, 5, 5]},
            "decoder": {"dim": 32, "intermediate_dim": 64, "num_blocks": 2, "upsample": upsample},
        }
    )


def speechlike(seconds=1.0, seed=0, sr=16000):
    """A harmonic tone with a moving pitch and syllable-rate envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120 + 30 * np.sin(2 * np.pi * 2 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    return (0.2 * x * env + 0.005 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("frame_rate", [50, 25, 12.5, 6.25])
@pytest.mark.parametrize("kind", ["rvq", "fsq", "vq", "lfq", "bsq", "mcrvq"])
def test_forward_backward_shapes(frame_rate, kind):
    torch.manual_seed(0)
    cfg = tiny(frame_rate, kind)
    codec = Codec(cfg)
    hop = cfg.hop
    wav = torch.randn(2, hop * 4) * 0.1
    recon, codes, commit, latents = codec(wav)
    assert recon.shape == wav.shape
    k = 1 if kind == "vq" else 3
    assert codes.shape == (2, 4, k)
    assert latents.shape == (2, 4, 32)
    (recon.pow(2).mean() + commit).backward()
    assert codec.encoder.stem.weight.grad is not None and torch.isfinite(codec.encoder.stem.weight.grad).all()
    codec.eval()
    c = codec.encode(wav)
    assert c.shape == (2, k, 4)
    assert int(c.max()) < codec.codebook_sizes[0]
    assert codec.decode(c).shape == (2, hop * 4)


@pytest.mark.parametrize("kind,nq", [(k, n) for k in ("rvq", "fsq", "vq", "lfq", "bsq") for n in (1, 3)] + [("mcrvq", 3)])
def test_decoding_the_codes_gives_what_the_forward_pass_quantized_to(kind, nq):
    """Tokens decode to the very vectors the model trained on (bsq's residual lookup once did not)."""
    torch.manual_seed(0)
    codec = Codec(tiny(50, kind, nq=nq))
    codec(torch.randn(4, 16000) * 0.1)  # k-means init where there is one
    codec.eval()
    with torch.no_grad():
        latents = codec.encoder(codec.pad(torch.randn(2, 3200) * 0.1))
        q, _, _ = codec.quantizer(latents)
        codes = codec.quantizer.encode(latents)
        torch.testing.assert_close(codec.quantizer.decode(codes), q, atol=1e-5, rtol=1e-5)


def test_mcrvq_first_levels_each_code_one_channel_group():
    torch.manual_seed(0)
    codec = Codec(tiny(50, "mcrvq", nq=4))  # latent 32 channels, 3 masked groups: 0-10, 11-20, 21-31
    codec(torch.randn(4, 16000) * 0.1)
    codec.eval()
    codes = codec.encode(torch.randn(2, 3200) * 0.1)  # (batch, K, frames)
    q = codec.quantizer
    edges = [0, 11, 21, 32]
    for level in range(3):
        one = torch.full_like(codes, -1).transpose(1, 2)
        one[..., level] = codes[:, level]
        vec = q.decode(one)
        outside = torch.ones(32, dtype=torch.bool)
        outside[edges[level] : edges[level + 1]] = False
        assert vec[..., outside].abs().max() == 0 and vec[..., ~outside].abs().max() > 0
    one = torch.full_like(codes, -1).transpose(1, 2)
    one[..., 3] = codes[:, 3]
    assert (q.decode(one).abs() > 0).all()  # the last level is plain RVQ over every channel
    with pytest.raises(ValueError, match="masked_groups"):
        codec_config_from_dict({"frame_rate": 50, "encoder": {"strides": [2, 2, 2]},
                                "quantizer": {"kind": "mcrvq", "num_quantizers": 2, "masked_groups": 3}})


def test_config_rejects_inconsistent_hop_and_typos():
    with pytest.raises(ValueError, match="needs 320"):
        codec_config_from_dict({"frame_rate": 50, "encoder": {"strides": [2, 2]}, "quantizer": {}})
    with pytest.raises(ValueError, match="unknown key"):
        run_config_from_dict({"train": {"stpes": 3}})


@pytest.mark.parametrize("kind", ["rvq", "bsq"])
def test_quantizer_dropout_gives_stated_bitrates(kind):
    torch.manual_seed(0)
    codec = Codec(tiny(50, kind, nq=3))
    codec(torch.randn(2, 16000) * 0.1)  # k-means init
    wav = speechlike(2.0)
    for k in (1, 2, 3):
        tok = CodecTokenizer(codec, f"tiny@{k}", "test", num_codebooks=k)
        tokens = tok.encode(wav, 16000)
        assert tokens.num_codebooks == k
        assert tok.bitrate == pytest.approx(50 * 6 * k)  # 64 codes = 6 bits, 50 frames/s
        assert tokens.bitrate == pytest.approx(50 * 6 * k, rel=0.02)
        audio, sr = tok.decode(tokens)
        assert sr == 16000 and len(audio) == len(wav)


@pytest.mark.parametrize("frame_rate,upsample", [(50, "transposed"), (12.5, "transposed"), (25, "repeat")])
def test_streaming_equals_whole_file(frame_rate, upsample):
    torch.manual_seed(0)
    codec = Codec(tiny(frame_rate, causal=True, upsample=upsample))
    codec(torch.randn(16, 32000) * 0.1)  # k-means init from enough vectors: no duplicate codes, no ties
    codec.eval()
    wav = torch.from_numpy(speechlike(2.1))[None]
    whole_codes = codec.encode(wav)
    whole_audio = codec.decode(whole_codes)

    rng = np.random.default_rng(1)
    stream, pos, codes = StreamingCodec(codec), 0, []
    while pos < wav.shape[1]:
        n = int(rng.integers(1, 3000))
        codes.append(stream.encode(wav[:, pos : pos + n]))
        pos += n
    codes.append(stream.encode_flush())
    streamed_codes = torch.cat(codes, dim=-1)
    assert torch.equal(streamed_codes, whole_codes)

    stream, f, audio = StreamingCodec(codec), 0, []
    while f < whole_codes.shape[-1]:
        n = int(rng.integers(1, 7))
        audio.append(stream.decode(whole_codes[:, :, f : f + n]))
        f += n
    audio.append(stream.decode_flush())
    streamed = torch.cat(audio, dim=-1)
    assert streamed.shape == whole_audio.shape
    torch.testing.assert_close(streamed, whole_audio, atol=1e-5, rtol=1e-4)


def test_streaming_refuses_non_causal_model():
    with pytest.raises(RuntimeError, match="causal"):
        StreamingCodec(Codec(tiny(50)))


def test_batch_encode_equals_one_by_one_padding_does_not_leak():
    torch.manual_seed(0)
    codec = Codec(tiny(50))
    codec(torch.randn(4, 16000) * 0.1)
    # in float64: a batch's other summation order moves a distance by ~1e-16, too little to flip a
    # codeword choice (in float32 a rare residual-level near-tie flipped on one CI machine's CPU);
    # padding that leaked into an item would change its codes at any precision
    tok = CodecTokenizer(codec.double(), "tiny", "test")
    wavs = [speechlike(s, seed=i) for i, s in enumerate((0.37, 1.5, 0.9, 2.2))]
    batch = tok.encode_batch(wavs, 16000)
    for w, b in zip(wavs, batch):
        single = tok.encode(w, 16000)
        assert b.num_frames == math.ceil(len(w) / 320)
        np.testing.assert_array_equal(b.codes, single.codes)


def _run_cfg(tmp_path, steps, **train):
    return run_config_from_dict(
        {
            "name": "tiny-run",
            "model": {
                "frame_rate": 50,
                "encoder": {"dims": [16, 16, 32, 32], "strides": [2, 2, 2], "blocks_per_stage": 1, "latent_dim": 32},
                "quantizer": {"kind": "rvq", "codebook_size": 64, "num_quantizers": 3},
                "decoder": {"dim": 32, "intermediate_dim": 64, "num_blocks": 2},
            },
            "data": {"train": "", "valid": "", "segment_seconds": 0.5},
            "loss": {"disc_start_step": 2},
            "train": {
                "steps": steps, "batch_size": 4, "lr": 3e-3, "warmup_steps": 1, "valid_every": 0,
                "checkpoint_every": 1000, "accelerator": "cpu", "log_every": 1000, **train,
            },
        }
    )


def _trainer(tmp_path, cfg, name="run"):
    wavs = [speechlike(2.0, seed=i) for i in range(4)]
    tr = Trainer(cfg, tmp_path / name, progress=False)
    tr.load_data(train_wavs=wavs, valid_wavs=[])
    return tr


def _short_reconstruction_run(tmp_path, **quantizer):
    """33 steps on one batch, reconstruction only (a clean signal for a short run); ``quantizer``
    overrides model.quantizer fields. -> (trainer, mean mel loss of the first 3 steps, last one)."""
    torch.manual_seed(0)
    cfg = _run_cfg(tmp_path, steps=40)
    cfg.loss.disc_start_step = 10_000
    for k, v in quantizer.items():
        setattr(cfg.model.quantizer, k, v)
    tr = _trainer(tmp_path, cfg)
    wav = tr.sampler.batch(0, 4)
    first = [tr.train_step(wav)["mel"] for _ in range(3)]
    for _ in range(30):
        last = tr.train_step(wav)["mel"]
    return tr, float(np.mean(first)), last


def test_short_training_lowers_the_loss(tmp_path):
    _, first, last = _short_reconstruction_run(tmp_path)
    assert last < 0.8 * first


@pytest.mark.parametrize("kind", ["lfq", "bsq"])
def test_binary_quantizers_train_end_to_end_and_use_their_bits(tmp_path, kind):
    # 64 codes = 6 sign bits per codebook, 3 residual codebooks. At the default entropy weight 0.1
    # (MAGVIT-v2's) this tiny codec's plain LFQ put every frame of the first codebook on one code
    # in 33 steps (0.5: 4 codes); a strong entropy loss keeps its bits in use
    tr, first, last = _short_reconstruction_run(tmp_path, kind=kind, entropy_weight=2.0)
    assert last < 0.8 * first
    tok = CodecTokenizer(tr.codec, "tiny", "test")
    tokens = tok.encode(speechlike(2.0, seed=7), 16000)
    codes = tokens.codes
    assert codes.shape == (3, 100) and codes.min() >= 0 and codes.max() < 64
    # not collapsed: the first codebook follows the signal (a repetitive one: a few patterns
    # recur) and at least half of its sign bits change somewhere
    bits = (codes[0][:, None] >> np.arange(6)) & 1
    assert len(np.unique(codes[0])) >= 4 and (bits.min(0) != bits.max(0)).sum() >= 3
    y, _ = tok.decode(tokens)
    assert y.shape == (32000,) and np.isfinite(y).all()


def test_binary_quantizer_sizes_must_be_powers_of_two():
    assert tiny(50, "lfq").quantizer.codebook_size == 64  # a power of two builds
    with pytest.raises(ValueError, match="2\\*\\*bits"):
        codec_config_from_dict({"frame_rate": 50, "encoder": {"strides": [2, 2, 2]},
                                "quantizer": {"kind": "bsq", "codebook_size": 1000}})


def test_resume_continues_with_same_step_and_optimizer_state(tmp_path):
    torch.manual_seed(0)
    cfg = _run_cfg(tmp_path, steps=4)
    a = _trainer(tmp_path, cfg, "a")
    a.fit()
    a.save_checkpoint()
    rng_at_save = torch.get_rng_state()
    b = _trainer(tmp_path, _run_cfg(tmp_path, steps=6), "a")  # its set-up reseeds the global RNG
    assert b.resume() and b.step == 4
    assert torch.equal(torch.get_rng_state(), rng_at_save)  # the random stream is restored too
    sa, sb = a.opt_g.state_dict(), b.opt_g.state_dict()
    assert sa["state"].keys() == sb["state"].keys()
    for k in sa["state"]:
        torch.testing.assert_close(sa["state"][k]["exp_avg"], sb["state"][k]["exp_avg"])
    for pa, pb in zip(a.codec.parameters(), b.codec.parameters()):
        torch.testing.assert_close(pa, pb)
    # the next step after resume is the step an uninterrupted run would take: same batch, same update
    a.cfg.train.steps = b.cfg.train.steps = 6
    la = a.train_step(a.sampler.batch(4, 4))
    torch.set_rng_state(rng_at_save)  # both trainers share this process's RNG: give b the same start
    lb = b.train_step(b.sampler.batch(4, 4))
    assert la["loss"] == pytest.approx(lb["loss"], rel=1e-5)


def test_run_folder_is_loadable_and_tokens_survive_save_load(tmp_path):
    torch.manual_seed(0)
    cfg = _run_cfg(tmp_path, steps=2)
    tr = _trainer(tmp_path, cfg)
    tr.fit()
    run_dir = tmp_path / "run"
    assert (run_dir / "model.safetensors").exists() and (run_dir / "config.yaml").exists()
    tok = speechtok.load(run_dir)
    wav = speechlike(1.3)
    tokens = tok.encode(wav, 16000)
    path = tokens.save(tmp_path / "x.stok")
    again = speechtok.load(str(run_dir)).encode(wav, 16000)
    np.testing.assert_array_equal(again.codes, speechtok.Tokens.load(path).codes)
    audio, sr = tok.decode(speechtok.Tokens.load(path))
    assert sr == 16000 and len(audio) == len(wav)


def test_bad_run_folder_is_a_clear_error(tmp_path):
    (tmp_path / "config.yaml").write_text("model: {frame_rate: 50}\n")
    with pytest.raises(speechtok.SpeechtokError, match="no model.safetensors"):
        load_run(tmp_path)


def test_codebooks_are_initialised_from_many_vectors_with_dropout_off(tmp_path):
    torch.manual_seed(0)
    cfg = _run_cfg(tmp_path, steps=1)
    tr = _trainer(tmp_path, cfg)
    tr.init_codebooks()
    layers = tr.codec.quantizer.impl.layers
    assert all(bool(layer._codebook.initted) for layer in layers)  # every codebook, despite dropout
    assert tr.codec.quantizer.impl.dropout  # and dropout is back on for training
    embed = layers[0]._codebook.embed[0]
    assert len(torch.unique(embed, dim=0)) == embed.shape[0]  # no duplicate codes
