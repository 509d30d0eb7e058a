"""Semantic side: frame alignment of teachers, PNMI/purity with known answers, token stability,
the phone aligner, flite synthesis, PhoneCTC and the probe end to end on the shipped clips, and
the old ``speechtok.semantic.*`` import paths (kept as re-exporting modules)."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from speechtok.data.phones import (
    PHONES, Segment, num_frames_for, phone_id, resample_labels, segments_to_frames,
)
from speechtok.eval.metrics.units import (
    PERTURBATIONS, cluster_quality, dedup, edit_distance, token_stability, unit_edit_distance,
)
from speechtok.teachers.frame_targets import AlignedPhoneTeacher, HFTeacher, HFTextTeacher, pooling_matrix

RATES = (50.0, 25.0, 12.5)
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite not installed (apt-get install flite)")


@pytest.fixture(scope="module")
def en_clip():
    from speechtok.data import shipped_clips
    from speechtok.audio import load_audio

    u = next(c for c in shipped_clips() if c.language == "en")
    return u, load_audio(u.path, 16000)[0]


# ---- phones and frames ----------------------------------------------------------------------
def test_phone_ids_normalise_stress_case_and_aliases():
    assert phone_id("AH0") == phone_id("ah") == phone_id("ax") == PHONES.index("AH")
    assert phone_id("pau") == phone_id("+NSN+") == phone_id("<sil>") == 0
    with pytest.raises(ValueError, match="unknown phone"):
        phone_id("QQ")


@pytest.mark.parametrize("rate", RATES)
def test_segments_to_frames_labels_frame_centres(rate):
    hop = 1 / rate
    # a phone boundary exactly between the centres of frames 2 and 3
    segs = [Segment("SIL", 0, 3 * hop), Segment("AA", 3 * hop, 5.2 * hop)]
    lab = segments_to_frames(segs, rate, 7)
    assert lab.tolist() == [0, 0, 0, 1, 1, 1, 1]  # past the end: the last label
    # a crop starting 3 frames in sees the same time line shifted
    assert segments_to_frames(segs, rate, 2, offset=3 * hop).tolist() == [1, 1]


def test_frame_count_rule_is_ceil():
    assert num_frames_for(16000, 50) == 50 and num_frames_for(16001, 50) == 51
    assert num_frames_for(16000, 12.5) == 13 and num_frames_for(1280 * 4, 12.5) == 4
    assert resample_labels(np.arange(8), 100, 25, 2).tolist() == [2, 6]  # centres 0.02, 0.06 s


# ---- teachers produce one target per codec frame -------------------------------------------------
def _tiny_ssl(kind):
    from transformers import HubertConfig, HubertModel, WavLMConfig, WavLMModel

    cfg = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, conv_dim=(16,) * 7,
               num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
    torch.manual_seed(0)
    return HubertModel(HubertConfig(**cfg)) if kind == "hubert" else WavLMModel(WavLMConfig(**cfg))


@pytest.mark.parametrize("kind", ["hubert", "wavlm"])
def test_ssl_teacher_frames(kind):
    pytest.importorskip("transformers")
    teacher = HFTeacher(_tiny_ssl(kind), "ssl", layer=1)
    wav = np.random.default_rng(0).standard_normal(16000 + 500).astype(np.float32) * 0.1
    for rate in RATES:
        t = teacher.targets(wav, rate)
        assert t.shape == (num_frames_for(len(wav), rate), 16) and np.isfinite(t).all()
    batch = teacher.targets_batch(torch.from_numpy(np.stack([wav, wav[::-1].copy()])), 25.0, num_frames=20)
    assert batch.shape == (2, 20, 16)
    assert np.allclose(batch[0].numpy(), teacher.targets(wav, 25.0, 20), atol=1e-5)  # batched = one by one


def test_whisper_teacher_frames():
    pytest.importorskip("transformers")
    from transformers import WhisperConfig, WhisperModel

    cfg = WhisperConfig(d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                        encoder_ffn_dim=32, decoder_ffn_dim=32, num_mel_bins=80)
    teacher = HFTeacher(WhisperModel(cfg).get_encoder(), "whisper", layer=-1)
    wav = np.random.default_rng(1).standard_normal(24000).astype(np.float32) * 0.1
    for rate in RATES:
        assert teacher.targets(wav, rate).shape == (num_frames_for(24000, rate), 16)


def test_pooling_matrix_averages_source_frames_inside_each_target_frame():
    w = pooling_matrix(np.array([0.01, 0.03, 0.05, 0.07]), 25.0, 2)  # 40 ms frames
    assert np.allclose(w, [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])
    up = pooling_matrix(np.array([0.01, 0.03]), 100.0, 4)  # above the source rate: nearest
    assert np.allclose(up.argmax(1), [0, 0, 1, 1]) and np.allclose(up.sum(1), 1)


def test_text_teacher_spreads_word_vectors_over_word_frames():
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world"])}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]")
    bert = BertModel(BertConfig(vocab_size=6, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32))
    teacher = HFTextTeacher(bert, tok)
    words = [["<sil>", 0.0, 0.2], ["hello", 0.2, 0.6], ["world", 0.6, 1.0]]
    t = teacher.targets(np.zeros(16000, np.float32), 25.0, words=words)
    assert t.shape == (25, 16)
    assert np.allclose(t[:5], 0)  # silence
    assert np.allclose(t[5], t[14]) and not np.allclose(t[14], t[15])  # hello | world boundary at 0.6 s


def test_phone_teacher_from_cache_and_batch():
    row = {"id": "a", "phones": [["SIL", 0, 0.1], ["HH", 0.1, 0.2], ["AY", 0.2, 0.5]]}
    teacher = AlignedPhoneTeacher({"a": row})
    for rate in RATES:
        t = teacher.targets(np.zeros(8000, np.float32), rate, utt_id="a")
        assert t.shape == (num_frames_for(8000, rate),) and t.dtype == np.int64
    b = teacher.targets_batch(torch.zeros(2, 8000), 50.0, contexts=[{"utt_id": "a"}, {"utt_id": "a", "offset": 0.2}])
    assert b.shape == (2, 25) and b[1, 0] == phone_id("AY")
    with pytest.raises(KeyError, match="no alignment"):
        teacher.targets(np.zeros(100, np.float32), 50.0, utt_id="b")


# ---- measures with known answers ----------------------------------------------------------------
def test_pnmi_identical_units_is_one_and_purities_are_one():
    y = np.random.default_rng(0).integers(0, 40, 5000)
    q = cluster_quality(y, y + 100)  # a relabelling is as good as identity
    assert q["pnmi"] == pytest.approx(1.0) and q["phone_purity"] == pytest.approx(1.0) and q["cluster_purity"] == pytest.approx(1.0)


def test_pnmi_independent_units_is_near_zero():
    rng = np.random.default_rng(0)
    q = cluster_quality(rng.integers(0, 10, 100_000), rng.integers(0, 20, 100_000))
    assert q["pnmi"] < 0.005 and q["phone_purity"] < 0.13


def test_purity_hand_computed():
    # units: z0 -> {a, a, b}, z1 -> {b}: phone purity (2 + 1) / 4; cluster purity: a -> z0 (2/2), b -> one of 2: (2 + 1) / 4
    y, z = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1])
    q = cluster_quality(y, z)
    assert q["phone_purity"] == pytest.approx(0.75) and q["cluster_purity"] == pytest.approx(0.75)
    # I(y;z) by hand: H(y) = 1 bit, H(y|z) = 3/4 * H(2/3, 1/3)
    h = -(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3))
    assert q["pnmi"] == pytest.approx(1 - 0.75 * h)
    with pytest.raises(ValueError, match="same frames"):
        cluster_quality(y, z[:3])


def test_edit_distance_and_ued():
    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance(list(b"kitten"), list(b"sitting")) == 3
    assert edit_distance([], [1, 2]) == 2
    assert dedup([3, 3, 5, 3]).tolist() == [3, 5, 3]
    assert unit_edit_distance([1, 1, 2, 2, 3], [1, 2, 2, 2, 3]) == 0  # same after merging repeats
    assert unit_edit_distance([1, 2, 3, 4], [1, 2, 9, 4]) == 0.25


def test_perturbations_change_audio_as_specified():
    wav = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    noisy = PERTURBATIONS["noise_20db"](wav)
    snr = 10 * np.log10(np.mean(wav**2) / np.mean((noisy - wav) ** 2))
    assert abs(snr - 20) < 0.5
    assert abs(len(PERTURBATIONS["speed_1.1"](wav)) - 16000 / 1.1) < 2
    assert len(PERTURBATIONS["shift_10ms"](wav)) == 16160


def test_stability_of_a_deterministic_tokenizer_on_identical_audio_is_zero(en_clip):
    from speechtok.tokenizers.mfcc_kmeans import MFCCKMeansTokenizer

    tok = MFCCKMeansTokenizer(50.0)
    _, wav = en_clip
    same = token_stability(tok, [wav], perturbations={"none": lambda w: w.copy()})
    assert same == {"none": [0.0]}
    moved = token_stability(tok, [wav], perturbations={"shift": PERTURBATIONS["shift_10ms"]})
    assert 0 < moved["shift"][0] < 1.5


# ---- MFCC k-means reference tokenizer --------------------------------------------------------------
@pytest.mark.parametrize("rate", RATES)
def test_mfcc_kmeans_tokenizer_frames(rate, en_clip):
    from speechtok.tokenizers.mfcc_kmeans import resolve

    tok = resolve(f"mfcc-kmeans@{rate:g}hz:k500")
    _, wav = en_clip
    t = tok.encode(wav, 16000)
    assert t.codes.shape == (1, num_frames_for(len(wav), rate)) and t.codes.max() < 500
    assert len(np.unique(t.codes)) > 10  # real speech uses many units
    with pytest.raises(NotImplementedError):
        tok.decode(t)


# ---- alignment and synthesis ------------------------------------------------------------------------
@needs_flite
def test_pocketsphinx_aligns_the_shipped_english_clip(en_clip):
    pytest.importorskip("pocketsphinx")
    from speechtok.data.forced_align import Aligner, AlignmentError

    u, wav = en_clip
    phones, words = Aligner().align(wav, u.text)
    names = [w.phone for w in words if not w.phone.startswith("<")]
    assert names[:3] == ["please", "enter", "your"] and "area" in names
    assert phones[-1].end == pytest.approx(len(wav) / 16000, abs=0.05)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(phones, phones[1:]))
    with pytest.raises(AlignmentError, match="no words"):
        Aligner().align(wav, "...")


@needs_flite
def test_align_manifest_caches_resumes_and_retries_errors(tmp_path, en_clip):
    pytest.importorskip("pocketsphinx")
    from speechtok.data.forced_align import align_manifest

    u, _ = en_clip
    cache = tmp_path / "al.jsonl"
    cache.write_text(json.dumps({"id": u.id, "error": "failed earlier"}) + "\n")
    assert align_manifest([u], cache, progress=False) == {}  # a cached failure is not retried
    rows = align_manifest([u], cache, progress=False, retry_errors=True)
    assert rows[u.id]["phones"] and rows[u.id]["error"] is None
    with open(cache, "a") as f:
        f.write('{"id": "torn')  # an interrupted write
    assert align_manifest([u], cache, progress=False) == rows and len(cache.read_text().splitlines()) == 3


@needs_flite
def test_flite_synthesis_timings_span_the_audio():
    from speechtok.data.flite_labels import synthesize

    wav, segs = synthesize("Testing one two three.", "slt")
    assert [s.phone for s in segs][:3] == ["pau", "t", "eh"]
    assert segs[-1].end == pytest.approx(len(wav) / 16000, abs=0.01)


@needs_flite
def test_flite_labels_command_reads_fortunes_with_labels_and_resumes(tmp_path):
    from speechtok.data.flite_labels import main
    from speechtok.data.fortunes import FORTUNE_DIR
    from speechtok.data.manifest import read_manifest

    if not FORTUNE_DIR.exists():
        pytest.skip("no Debian fortunes (apt-get install fortunes)")
    args = ["--fortunes", "2", "--voices", "slt", "--stretches", "1.0", "1.2", "--max-chars", "60", "--out", str(tmp_path)]
    assert main(args) == 0
    utts = read_manifest(tmp_path / "manifest.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "alignments.jsonl").read_text().splitlines()]
    assert len(utts) == len(rows) == 4 and len({u.text for u in utts}) == 2
    for r in rows:  # flite's own phone times cover each file, and the slower stretch is longer
        assert r["phones"][-1][2] == pytest.approx(r["num_samples"] / 16000, abs=0.01)
    by_text = {}
    for r in rows:
        by_text.setdefault(r["text"], []).append(r["num_samples"])
    assert all(max(v) > min(v) for v in by_text.values())
    assert main(args) == 0 and len((tmp_path / "alignments.jsonl").read_text().splitlines()) == 4  # nothing redone


# ---- PhoneCTC --------------------------------------------------------------------------------------
def test_phone_ctc_frames_and_gradient_wrt_audio():
    from speechtok.teachers.phone_ctc import PhoneCTC, PhoneCTCConfig

    model = PhoneCTC(PhoneCTCConfig(dim=32, conv_blocks=1, gru_layers=1))
    for samples in (16000, 16001, 1280 * 3):
        x = torch.randn(2, samples, requires_grad=True)
        h = model.encode(x)
        assert h.shape == (2, num_frames_for(samples, 50.0), 32)
    h.pow(2).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@needs_flite
def test_shipped_phone_ctc_recognizes_the_held_out_english_clip(en_clip):
    pytest.importorskip("pocketsphinx")
    from speechtok.data.forced_align import Aligner
    from speechtok.teachers.phone_ctc import PhoneCTC, phone_error_rate
    from speechtok.data.phones import phone_sequence

    u, wav = en_clip
    ref = phone_sequence(Aligner().align(wav, u.text)[0])
    model = PhoneCTC.load()  # the float16 checkpoint in speechtok/assets/phone_ctc
    assert phone_error_rate([ref], [model.recognize(wav)]) < 0.5  # 0.37 when it was shipped; chance is ~1


def test_phone_ctc_teacher_frames():
    from speechtok.teachers.phone_ctc import PhoneCTC, PhoneCTCConfig
    from speechtok.teachers.frame_targets import PhoneCTCTeacher

    teacher = PhoneCTCTeacher(PhoneCTC(PhoneCTCConfig(dim=16, conv_blocks=1, gru_layers=1)))
    wav = np.random.default_rng(2).standard_normal(16500).astype(np.float32) * 0.1
    for rate in RATES:
        assert teacher.targets(wav, rate).shape == (num_frames_for(len(wav), rate), 16)
    # at 25 Hz each target frame is the mean of two 50 Hz encoder frames
    h = teacher.model.encode(torch.from_numpy(wav)[None])[0].numpy()
    assert np.allclose(teacher.targets(wav, 25.0)[0], h[:2].mean(0), atol=1e-5)


def test_phone_ctc_trains_resumably_saves_and_loads_frozen(tmp_path, en_clip):
    from speechtok.teachers.phone_ctc import PhoneCTC, PhoneCTCConfig, train

    u, wav = en_clip
    row = {"id": u.id, "path": u.path, "phones": [["SIL", 0, 0.3], ["P", 0.3, 0.4], ["L", 0.4, 0.5], ["IY", 0.5, 0.7],
                                                  ["Z", 0.7, 0.9], ["SIL", 0.9, 3.6]]}
    cfg = PhoneCTCConfig(dim=32, conv_blocks=1, gru_layers=1)
    train([row], [row], tmp_path / "run", steps=4, batch=2, crop=1.0, config=cfg, log_every=2)
    loaded = PhoneCTC.load(tmp_path / "run")
    assert not any(p.requires_grad for p in loaded.parameters())
    meta = json.loads((tmp_path / "run" / "config.json").read_text())
    assert meta["steps"] == 4 and 0 <= meta["valid_per"]
    # the float16 copy (as shipped) loads back to nearly the same model
    from speechtok.teachers.phone_ctc import export_half

    half = PhoneCTC.load(export_half(tmp_path / "run", tmp_path / "half", "the command"))
    assert json.loads((tmp_path / "half" / "config.json").read_text())["command"] == "the command"
    x = torch.from_numpy(wav[:16000].astype(np.float32))[None]
    assert torch.allclose(half(x)[1], loaded(x)[1], atol=0.05)


def test_phone_ctc_sample_weights_decide_what_batches_draw(tmp_path, en_clip, monkeypatch):
    from speechtok.teachers import phone_ctc
    from speechtok.teachers.phone_ctc import PhoneCTCConfig, train

    u, _ = en_clip
    a = {"id": "a", "path": u.path, "phones": [["SIL", 0, 0.3], ["P", 0.3, 0.5], ["SIL", 0.5, 3.6]]}
    b = {"id": "b", "path": u.path, "phones": [["SIL", 0, 0.3], ["Z", 0.3, 0.5], ["SIL", 0.5, 3.6]]}
    drawn, real = [], phone_ctc.make_batch

    def spy(items, rng, crop):
        drawn.extend(segs[1].phone for _, segs in items)
        return real(items, rng, crop)

    monkeypatch.setattr(phone_ctc, "make_batch", spy)
    cfg = PhoneCTCConfig(dim=16, conv_blocks=1, gru_layers=1)
    train([a, b], [a], tmp_path / "run", steps=3, batch=4, crop=1.0, config=cfg, log_every=3, sample_weights=[0.0, 1.0])
    assert drawn == ["Z"] * 12  # the zero-weight row is never drawn
    with pytest.raises(ValueError, match="2 sample weights for 1"):
        train([a], [a], tmp_path / "run2", steps=1, batch=1, config=cfg, sample_weights=[1.0, 1.0])


def test_phone_ctc_command_sets_the_network_and_refuses_clashing_ids(tmp_path, en_clip):
    from speechtok.data.manifest import write_manifest
    from speechtok.teachers.phone_ctc import PhoneCTC, main

    u, _ = en_clip
    row = {"id": u.id, "path": u.path, "error": None, "phones": [["SIL", 0, 0.3], ["P", 0.3, 0.4], ["L", 0.4, 0.5],
                                                                 ["IY", 0.5, 0.7], ["Z", 0.7, 0.9], ["SIL", 0.9, 3.6]]}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(row) + "\n")
    b.write_text(json.dumps({**row, "id": "other"}) + "\n")
    write_manifest(tmp_path / "valid.jsonl", [u])
    common = ["--valid-ids", str(tmp_path / "valid.jsonl"), "--steps", "1", "--batch", "1", "--threads", "1"]
    with pytest.raises(SystemExit, match=f"{b}: utterance id 'other'.*also in {b}.*unique"):
        main(["--align", str(b), str(b), "--out", str(tmp_path / "x"), *common])
    assert main(["--align", str(a), str(b), "--out", str(tmp_path / "run"), "--dim", "24", "--gru-layers", "1",
                 "--conv-blocks", "1", *common]) == 0
    m = PhoneCTC.load(tmp_path / "run")
    assert (m.config.dim, m.config.gru_layers, m.config.conv_blocks) == (24, 1, 1)
    with pytest.raises(SystemExit):
        main(["--align", str(a), "--out", str(tmp_path / "y"), "--dim", "7", *common])


# ---- the probe command end to end -------------------------------------------------------------------
@needs_flite
def test_probe_command_end_to_end_on_shipped_clips(tmp_path):
    pytest.importorskip("pocketsphinx")
    from speechtok.cli import main
    from speechtok.data import shipped_clips
    from speechtok.data.manifest import write_manifest
    from speechtok.eval.rows import read_rows

    manifest = tmp_path / "clips.jsonl"
    write_manifest(manifest, shipped_clips())  # only the English clip has an aligner
    rc = main(["probe", "-t", "mfcc-kmeans@25hz:k500", "--data", str(manifest), "--train", str(manifest),
               "--out", str(tmp_path / "out"), "--probe-steps", "3", "--alignments", str(tmp_path / "al.jsonl")])
    assert rc == 0
    rows = {(r["utt"], r["metric"]): r for r in read_rows(tmp_path / "out" / "rows.jsonl")}
    assert 0 < rows[("*", "pnmi_cb0")]["value"] <= 1
    assert rows[("*", "probe_per")]["error"] is None and rows[("*", "probe_per")]["value"] >= 0
    assert rows[("en/privacy-prompt", "ued_speed_1.1")]["value"] > 0
    first = (tmp_path / "out" / "rows.jsonl").read_text()
    assert main(["probe", "-t", "mfcc-kmeans@25hz:k500", "--data", str(manifest), "--out", str(tmp_path / "out"),
                 "--alignments", str(tmp_path / "al.jsonl")]) == 0
    assert (tmp_path / "out" / "rows.jsonl").read_text() == first  # resumed: nothing recomputed


# ---- the old import paths ------------------------------------------------------------------------
#: old module -> where its code lives now (issue 19: each module in the package of its layer)
MOVED = {
    "speechtok.semantic.phones": "speechtok.data.phones",
    "speechtok.semantic.align": "speechtok.data.forced_align",
    "speechtok.semantic.synth": "speechtok.data.flite_labels",
    "speechtok.semantic.measures": "speechtok.eval.metrics.units",
    "speechtok.semantic.phone_ctc": "speechtok.teachers.phone_ctc",
    "speechtok.semantic.teachers": "speechtok.teachers.frame_targets",
    "speechtok.semantic.mfcc_kmeans": "speechtok.tokenizers.mfcc_kmeans",
    "speechtok.semantic.evaluate": "speechtok.eval.phonetic",
    "speechtok.semantic.probe": "speechtok.eval.phone_probe",
    "speechtok.codec.semantic": "speechtok.codec.semantic_losses",
    "speechtok.codec.sourcefilter.semantic": "speechtok.codec.sourcefilter.phonetic_stage",
}


def test_every_old_semantic_module_is_checked():
    from pathlib import Path

    import speechtok

    folder = Path(speechtok.__file__).parent / "semantic"
    assert {f"speechtok.semantic.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"} == {
        m for m in MOVED if m.startswith("speechtok.semantic.")}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_import_path_gives_the_moved_module_s_objects(old):
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DeprecationWarning that would break a user's -W error run
        shim = importlib.import_module(old)
    new = importlib.import_module(MOVED[old])
    names = [k for k in vars(new) if not k.startswith("__")]
    assert names and [k for k in names if getattr(shim, k, None) is not getattr(new, k)] == []


def test_the_old_names_of_renamed_classes_still_import():
    from speechtok.codec.sourcefilter.semantic import TEACHER_RATE, PhoneTeacher, teacher_posteriors
    from speechtok.codec.sourcefilter.teacher import EmbeddedPhoneTeacher
    from speechtok.codec.sourcefilter.teacher import PhoneTeacher as from_teacher
    from speechtok.dsp import edit_distance as dsp_edit_distance
    from speechtok.semantic.measures import edit_distance as old_edit_distance
    from speechtok.semantic.teachers import PhoneTeacher as aligned

    assert PhoneTeacher is from_teacher is EmbeddedPhoneTeacher and TEACHER_RATE == 50.0 and callable(teacher_posteriors)
    assert aligned is AlignedPhoneTeacher and aligned.__name__ != PhoneTeacher.__name__
    assert old_edit_distance is dsp_edit_distance is edit_distance


@pytest.mark.parametrize("module", ["align", "phone_ctc", "mfcc_kmeans"])
def test_old_python_m_commands_still_run(module):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", f"speechtok.semantic.{module}", "--help"],
                         capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert out.returncode == 0 and "usage:" in out.stdout, out.stderr[-2000:]
