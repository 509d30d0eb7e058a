"""The phones objective on the source-filter codec's first envelope stage (codec/sourcefilter/phonetic_stage.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import speechtok
from speechtok.codec.sourcefilter.quantize import ResidualKMeans
from speechtok.codec.sourcefilter.phonetic_stage import side_scale, teacher_posteriors
from speechtok.teachers.phone_ctc import PhoneCTC, PhoneCTCConfig

from test_sourcefilter import SR, _tiny_run_cfg


def _labelled(n=3000, seed=0):
    """Features where dimension 0 carries a binary "phone" (small spread) and dimensions 1..3
    carry larger label-free variation, with the label's one-hot posteriors."""
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 4, generator=g) * torch.tensor([0.1, 1.0, 1.0, 1.0])
    x[:, 0] += 0.6 * label
    return x, torch.nn.functional.one_hot(label, 2).float(), label


def _purity(units: torch.Tensor, label: torch.Tensor) -> float:
    counts = torch.zeros(int(units.max()) + 1, 2)
    counts.index_put_((units, label), torch.ones(len(units)), accumulate=True)
    return float(counts.max(1).values.sum() / len(units))


def test_teacher_posteriors_are_the_teachers_frames_averaged_onto_the_codec_grid():
    torch.manual_seed(0)
    teacher = PhoneCTC(PhoneCTCConfig(dim=16, conv_blocks=1, gru_layers=1)).eval()
    wav = np.random.default_rng(0).standard_normal(16000 + 700).astype(np.float32) * 0.1
    p50 = teacher_posteriors(teacher, wav, 320)
    with torch.no_grad():
        own = teacher(torch.from_numpy(wav)[None])[1][0].softmax(-1).numpy()
    np.testing.assert_allclose(p50, own, atol=1e-6)  # 50 Hz: the teacher's own frames
    p25 = teacher_posteriors(teacher, wav, 640)
    assert p25.shape == (-(-len(wav) // 640), 40)
    np.testing.assert_allclose(p25[3], own[6:8].mean(0), atol=1e-6)  # frame 3 covers teacher frames 6, 7
    np.testing.assert_allclose(p25.sum(1), 1, atol=1e-5)
    with pytest.raises(speechtok.SpeechtokError, match="multiple of 320"):
        teacher_posteriors(teacher, wav, 480)


@pytest.mark.parametrize("how", ["teacher", "joint"])
def test_a_teacher_makes_the_first_stage_phone_pure(how):
    x, post, label = _labelled()
    plain = ResidualKMeans(4, 4, 2)
    plain.fit(x, iters=15)
    side = post * side_scale(x, post, 4.0)
    guided = ResidualKMeans(4, 4, 2, side_dim=2 if how == "teacher" else 0)
    guided.fit(x, iters=15, side=side)
    # plain k-means splits the large label-free dimensions. With the teacher at encoding the
    # stage-1 units are phones; "joint" encodes by features alone and keeps only what its
    # centroids inherited (a weaker gain: here one phone got 1 centroid, the other 3)
    pure_plain = _purity(plain.encode(x, 1)[0], label)
    codes = guided.encode(x, side=side if how == "teacher" else None)
    pure_guided = _purity(codes[0], label)
    assert pure_plain < 0.6, pure_plain
    assert pure_guided > (0.95 if how == "teacher" else pure_plain + 0.05), (pure_plain, pure_guided)
    # stage 2 quantizes what stage 1 left (fitted on the residual of the same assignment);
    # decoding is the sum of feature centroids
    assert guided.codebooks.shape == (2, 4, 4)
    err1 = float(((x - guided.decode(codes[:1])) ** 2).mean())
    err2 = float(((x - guided.decode(codes)) ** 2).mean())
    assert err2 < 0.7 * err1


def test_a_quantizer_that_keeps_the_teacher_part_needs_it_and_saves_it():
    x, post, _ = _labelled()
    side = post * side_scale(x, post, 1.0)
    q = ResidualKMeans(4, 8, 1, side_dim=2)
    with pytest.raises(ValueError, match="teacher coordinates"):
        q.fit(x, iters=3)
    q.fit(x, iters=5, side=side)
    with pytest.raises(ValueError, match="teacher coordinates"):
        q.encode(x)
    back = ResidualKMeans(4, 8, 1, side_dim=2)
    back.load_state_dict(q.state_dict())
    assert torch.equal(back.encode(x, side=side), q.encode(x, side=side))
    assert torch.equal(back.side_codebook, q.side_codebook) and q.side_codebook.abs().sum() > 0


@pytest.mark.parametrize("how", ["joint", "teacher"])
def test_semantic_training_run_uses_the_shipped_teacher_and_the_run_folder_loads(tmp_path, speech_paths, how):
    from speechtok.codec.sourcefilter.train import run_training
    from speechtok.serve.streaming import can_stream

    cfg = _tiny_run_cfg(tmp_path, speech_paths, steps=20 if how == "teacher" else 0)
    cfg.model.frame_rate = 25.0
    cfg.model.quant.semantic, cfg.model.quant.semantic_weight = how, 1.0
    run = tmp_path / "run"
    report = run_training(cfg, run, progress=False)
    assert report["semantic"]["variant"] == how and report["semantic"]["teacher_weights"]
    assert report["train_mse_per_stage"][1] < report["train_mse_per_stage"][0]
    cached = ["teacher.json", "train-0000.npy"] + (["valid-0000.npy"] if how == "teacher" else [])
    assert sorted(p.name for p in (run / "teacher").iterdir()) == cached
    tok = speechtok.load(run)
    wav = speechtok.audio.load_audio(speech_paths[0])[0]
    t = tok.encode(wav, SR)
    assert t.codes.shape == (3, -(-len(wav) // 640)) and t.extra["streams"][0] == "pitch"
    y, _ = tok.decode(t)
    assert len(y) == len(wav)
    codec = tok.codec
    fr = codec.analyze(wav)
    if how == "teacher":
        # the model file holds the teacher: encoding runs it; stage 1 differs without it
        assert codec.teacher is not None and float(codec.teacher.scale) > 0
        side = codec.teacher_side(wav)
        np.testing.assert_array_equal(t.codes, codec.quantize(fr, side=side))
        assert not can_stream(tok)
        assert "refiner" in report
    else:
        assert codec.teacher is None and can_stream(tok)
        np.testing.assert_array_equal(t.codes, codec.quantize(fr))
    # a second run with another teacher setting must not reuse these posteriors silently
    cfg.train.semantic_teacher = str(tmp_path / "nowhere")
    (run / "codebooks.safetensors").unlink()
    with pytest.raises(speechtok.SpeechtokError, match="semantic teacher"):
        run_training(cfg, run, progress=False)


@pytest.mark.parametrize("override, words", [
    ("model.quant.semantic=phones", "'none', 'joint' or 'teacher'"),
    ("model.quant.semantic=joint", "semantic_weight > 0"),
    ("model.quant.semantic_weight=-1", "at least 0"),
])
def test_bad_semantic_settings_are_clear_errors(override, words):
    from pathlib import Path

    from speechtok.codec.sourcefilter.tokenizer import load_sf_config

    cfg = Path(__file__).resolve().parent.parent / "configs" / "sourcefilter-25hz.yaml"
    with pytest.raises(ValueError, match=words):
        load_sf_config(cfg, [override])


def test_semantic_measures_read_the_content_codebook_not_the_pitch_stream(tmp_path):
    from speechtok.eval.rows import RowLog, make_row
    from speechtok.eval.phonetic import content_codebook, markdown_table

    assert content_codebook(speechtok.load("speechtok-25hz@0.725kbps")) == 1  # codebook 0 is pitch
    assert content_codebook(speechtok.load("mfcc-kmeans@25hz:k100")) == 0
    with RowLog(tmp_path / "rows.jsonl") as log:
        for tok, k in (("sf", 1), ("e2e", 0)):
            log.write([make_row(tok, "v", "*", f"pnmi_cb{c}", 0.1 + c + 0.5 * (c == k), evaluator="t", evaluator_version="1")
                       for c in range(2)])
        log.write([make_row("sf", "v", "*", "content_codebook", 1, evaluator="t", evaluator_version="1")])
    table = markdown_table(tmp_path / "rows.jsonl")
    assert "| sf | 1 | 1.600 |" in table and "| e2e | 0 | 0.600 |" in table  # e2e: no content row, codebook 0


def test_heldout_unit_accuracy_does_not_reward_many_units():
    from speechtok.eval.metrics.units import cluster_quality, heldout_unit_accuracy

    rng = np.random.default_rng(0)
    labels_tr, labels_te = rng.integers(0, 5, 4000), rng.integers(0, 5, 1000)
    # units that follow the label (with 20% noise) score about 0.8 whatever their number
    good_tr = np.where(rng.random(4000) < 0.8, labels_tr, rng.integers(0, 5, 4000)) * 10 + rng.integers(0, 10, 4000)
    good_te = np.where(rng.random(1000) < 0.8, labels_te, rng.integers(0, 5, 1000)) * 10 + rng.integers(0, 10, 1000)
    assert heldout_unit_accuracy(good_tr, labels_tr, good_te, labels_te) == pytest.approx(0.84, abs=0.04)
    # 2000 random units: in-sample purity and PNMI look good, the held-out accuracy is chance
    rand_tr, rand_te = rng.integers(0, 2000, 4000), rng.integers(0, 2000, 1000)
    assert cluster_quality(labels_te, rand_te)["phone_purity"] > 0.5
    assert heldout_unit_accuracy(rand_tr, labels_tr, rand_te, labels_te) < 0.3
    # unaligned frames (-1) are left out
    assert heldout_unit_accuracy(np.array([0, 1, 1]), np.array([2, -1, 3]), np.array([0, 1]), np.array([2, -1])) == 1.0


def test_training_keeps_the_refiner_with_the_lowest_validation_error(tmp_path, speech_paths, monkeypatch):
    from speechtok.codec.sourcefilter import train as T
    from speechtok.codec.sourcefilter.model import SourceFilterCodec

    cfg = _tiny_run_cfg(tmp_path, speech_paths, steps=60)
    cfg.train.valid_every = 20
    codec = SourceFilterCodec(cfg.model)
    fr = T.analysis_cache(cfg, cfg.data.train, tmp_path / "cache", progress=False)
    T.fit_codebooks(codec, fr, progress=False)
    # validation errors scripted to be lowest at step 40; record the weights each check saw
    scripted, seen = iter([[0.5, 0.4], [0.3, 0.2], [0.4, 0.3]]), []

    def fake_mse(c, data, refine):
        seen.append({k: v.detach().clone() for k, v in c.refiner.state_dict().items()})
        return next(scripted)

    monkeypatch.setattr(T, "refiner_mse", fake_mse)
    log = T.train_refiner(codec, fr, cfg, tmp_path, progress=False, valid=T._refiner_tensors(codec, fr))
    assert [c["step"] for c in log["curve"]] == [20, 40, 60] and log["kept_step"] == 40
    kept = codec.refiner.state_dict()
    assert all(torch.equal(kept[k], seen[1][k]) for k in kept)
    assert not all(torch.equal(kept[k], seen[2][k]) for k in kept)  # not the last weights
    # resuming keeps the best of before: more steps whose checks are all worse change nothing
    scripted = iter([[0.9, 0.9]] * 3)
    cfg.train.refiner_steps = 100
    log = T.train_refiner(codec, fr, cfg, tmp_path, progress=False, valid=T._refiner_tensors(codec, fr))
    assert log["kept_step"] == 40 and all(torch.equal(codec.refiner.state_dict()[k], seen[1][k]) for k in kept)


def test_shipped_semantic_model_encodes_with_its_teacher_and_decodes_without(speech_clips):
    from speechtok.serve.streaming import can_stream

    tok = speechtok.load("speechtok-semantic@0.725kbps")
    assert tok.codebook_sizes == (128, 2048, 2048) and tok.frame_rate == 25.0 and not can_stream(tok)
    assert "speechtok-semantic@0.45kbps" in speechtok.available()
    wav = speech_clips[0][1]
    t = tok.encode(wav, SR)
    codec = tok.codec
    fr = codec.analyze(wav)
    np.testing.assert_array_equal(t.codes, codec.quantize(fr, 2, codec.teacher_side(wav)))
    # without the teacher's coordinates stage 1 would be another quantizer: the model says so
    with pytest.raises(ValueError, match="teacher coordinates"):
        codec.quantize(fr, 2)
    calls = []
    hook = codec.teacher.model.register_forward_hook(lambda *a: calls.append(1))
    try:
        tok.encode(wav[:16000], SR)
        assert len(calls) == 1  # encoding runs the teacher once
        y, _ = tok.decode(t)
        assert len(y) == len(wav) and len(calls) == 1  # decoding never does
    finally:
        hook.remove()
