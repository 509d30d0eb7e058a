"""The phones objective on the source-filter codec's first envelope stage (semantic.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import speechtok
from speechtok.codec.sourcefilter.quantize import ResidualKMeans, _nearest, kmeans
from speechtok.codec.sourcefilter.semantic import side_scale, student_metric, teacher_posteriors
from speechtok.semantic.phone_ctc import PhoneCTC, PhoneCTCConfig

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


def test_student_metric_stretches_the_direction_that_tells_phones_apart():
    x, post, label = _labelled()
    assert torch.allclose(student_metric(x, post, 0.0), torch.eye(4), atol=1e-5)  # weight 0: plain distance
    L = student_metric(x, post, 4.0)
    d = torch.eye(4)
    stretch = (d @ L).norm(dim=1)
    assert stretch[0] > 5 * stretch[1:].max()  # the label's direction, not the big noisy ones
    # the extra part is 4x the features' variance, as the weight says
    extra = ((x - x.mean(0)) @ L).pow(2).sum(1).mean() - (x - x.mean(0)).pow(2).sum(1).mean()
    assert float(extra) == pytest.approx(4.0 * float(x.var(0).sum()), rel=0.05)


@pytest.mark.parametrize("how", ["metric", "joint"])
def test_a_teacher_makes_the_first_stage_phone_pure_and_encoding_needs_no_teacher(how):
    x, post, label = _labelled()
    plain = ResidualKMeans(4, 4, 2)
    plain.fit(x, iters=15)
    guided = ResidualKMeans(4, 4, 2, metric=how == "metric")
    if how == "metric":
        guided.fit(x, iters=15, metric=student_metric(x, post, 4.0))
    else:
        guided.fit(x, iters=15, side=post * side_scale(x, post, 4.0))
    # plain k-means splits the large label-free dimensions; the guided stage splits phones. The
    # metric encodes with the same stretched distance, so its units stay pure; "joint" encodes by
    # features alone and keeps only what its centroids inherited (a weaker, but real, gain)
    pure_plain = _purity(plain.encode(x, 1)[0], label)
    pure_guided = _purity(guided.encode(x, 1)[0], label)
    assert pure_plain < 0.6, pure_plain
    assert pure_guided > (0.95 if how == "metric" else pure_plain + 0.05), (pure_plain, pure_guided)
    # encoding is features only; the later stage still lowers the error, decoding is the sum
    codes = guided.encode(x)
    err1 = float(((x - guided.decode(codes[:1])) ** 2).mean())
    err2 = float(((x - guided.decode(codes)) ** 2).mean())
    assert err2 < err1
    assert guided.codebooks.shape == (2, 4, 4)


def test_metric_quantizer_saves_and_loads_its_metric():
    x, post, _ = _labelled()
    q = ResidualKMeans(4, 8, 1, metric=True)
    q.fit(x, iters=5, metric=student_metric(x, post, 2.0))
    back = ResidualKMeans(4, 8, 1, metric=True)
    back.load_state_dict(q.state_dict())
    assert torch.equal(back.encode(x), q.encode(x))
    # the metric is part of the assignment: the plain nearest neighbour differs on some frames
    assert not torch.equal(_nearest(x, q.codebooks[0]), q.encode(x)[0])
    with pytest.raises(ValueError, match="without a stage-0 metric"):
        ResidualKMeans(4, 8, 1).fit(x, metric=torch.eye(4))


@pytest.mark.parametrize("how", ["joint", "metric"])
def test_semantic_training_run_uses_the_shipped_teacher_and_the_run_folder_loads(tmp_path, speech_paths, how):
    from speechtok.codec.sourcefilter.train import run_training

    cfg = _tiny_run_cfg(tmp_path, speech_paths, steps=0)
    cfg.model.frame_rate = 25.0
    cfg.model.quant.semantic, cfg.model.quant.semantic_weight = how, 1.0
    run = tmp_path / "run"
    report = run_training(cfg, run, progress=False)
    assert report["semantic"]["variant"] == how and report["semantic"]["teacher_weights"]
    assert report["train_mse_per_stage"][1] < report["train_mse_per_stage"][0]
    assert sorted(p.name for p in (run / "teacher").iterdir()) == ["teacher.json", "train-0000.npy"]
    tok = speechtok.load(run)
    wav = speechtok.audio.load_audio(speech_paths[0])[0]
    t = tok.encode(wav, SR)
    assert t.codes.shape == (3, -(-len(wav) // 640)) and t.extra["streams"][0] == "pitch"
    y, _ = tok.decode(t)
    assert len(y) == len(wav)
    # a second run with another teacher setting must not reuse these posteriors silently
    cfg.train.semantic_teacher = str(tmp_path / "nowhere")
    (run / "codebooks.safetensors").unlink()
    with pytest.raises(speechtok.SpeechtokError, match="semantic teacher"):
        run_training(cfg, run, progress=False)


@pytest.mark.parametrize("override, words", [
    ("model.quant.semantic=phones", "none, joint or metric"),
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
    from speechtok.semantic.evaluate import content_codebook, markdown_table

    assert content_codebook(speechtok.load("speechtok-25hz@0.725kbps")) == 1  # codebook 0 is pitch
    assert content_codebook(speechtok.load("mfcc-kmeans@25hz:k100")) == 0
    with RowLog(tmp_path / "rows.jsonl") as log:
        for tok, k in (("sf", 1), ("e2e", 0)):
            log.write([make_row(tok, "v", "*", f"pnmi_cb{c}", 0.1 + c + 0.5 * (c == k), evaluator="t", evaluator_version="1")
                       for c in range(2)])
        log.write([make_row("sf", "v", "*", "content_codebook", 1, evaluator="t", evaluator_version="1")])
    table = markdown_table(tmp_path / "rows.jsonl")
    assert "| sf | 1 | 1.600 |" in table and "| e2e | 0 | 0.600 |" in table  # e2e: no content row, codebook 0
