"""Speech the codec never heard: band-limit detection, in-band quantization, the corpus builders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import speechtok
from speechtok.codec.sourcefilter.band import band_mask, detect_band_limit, in_band_metric
from speechtok.codec.sourcefilter.envelope import to_cepstrum
from speechtok.data.manifest import Utterance, read_manifest
from speechtok.errors import TokensFileError

SR = 16000


def _lowpass(x: np.ndarray, cut: float) -> np.ndarray:
    """Zero every FFT bin above ``cut`` (an ideal band limit, as 8 kHz audio resampled to 16 kHz)."""
    X = np.fft.rfft(x)
    X[np.fft.rfftfreq(len(x), 1 / SR) > cut] = 0
    return np.fft.irfft(X, len(x)).astype(np.float32)


@pytest.fixture(scope="module")
def clip(speech_clips):
    return speech_clips[0][1]


def test_band_limit_found_in_narrowband_speech_and_not_in_wideband(clip):
    assert detect_band_limit(clip, SR) is None
    for cut in (3400.0, 4000.0, 5500.0):
        limit = detect_band_limit(_lowpass(clip, cut), SR)
        assert limit is not None and cut - 400 <= limit <= cut + 150, (cut, limit)
    # white noise is full band; too short or silent: no decision
    assert detect_band_limit(np.random.default_rng(0).standard_normal(SR), SR) is None
    assert detect_band_limit(np.zeros(SR), SR) is None
    assert detect_band_limit(clip[:1000], SR) is None


def test_band_mask_passes_the_band_and_stops_above_it():
    m = band_mask(4000.0, SR, 257)
    f = np.linspace(0, SR / 2, 257)
    assert np.all(m[f <= 3750] == 1.0) and np.all(m[f >= 4000] == 0.0)
    assert np.all(np.diff(m) <= 0)
    assert band_mask(None, SR, 257) is None


def test_in_band_metric_ignores_what_lies_above_the_band():
    L = in_band_metric(4000.0, SR, 24, 0.42, 2, 5)
    # an envelope change only above 5 kHz: the in-band error barely sees it, the full-band one does
    f = np.linspace(0, SR / 2, 257)
    bump = np.where(f > 5000, 1.0, 0.0)[None].astype(np.float32)
    dcep = np.concatenate([to_cepstrum(bump, 24, 0.42)] * 2, 1)
    d = torch.from_numpy(np.concatenate([dcep, np.zeros((1, 5), np.float32)], 1))
    assert float(((d @ L) ** 2).sum()) < 0.1 * float((d**2).sum())
    # a change below 3 kHz is seen almost fully
    low = np.where(f < 3000, 1.0, 0.0)[None].astype(np.float32)
    dl = torch.from_numpy(np.concatenate([np.concatenate([to_cepstrum(low, 24, 0.42)] * 2, 1), np.zeros((1, 5), np.float32)], 1))
    assert float(((dl @ L) ** 2).sum()) > 0.5 * float((dl**2).sum())
    # aperiodicity bands above the limit weigh nothing; full band is no metric at all
    Lb = L[48:, 48:].diag()
    assert Lb[-1] == 0 and Lb[0] == 1
    assert in_band_metric(None, SR, 24, 0.42, 2, 5) is None


def test_narrowband_speech_is_coded_and_decoded_as_narrowband(clip):
    tok = speechtok.load("speechtok-fast@1.45kbps")
    nb = _lowpass(clip, 3800.0)
    t = tok.encode(nb, SR)
    limit = t.extra["band_limit_hz"]
    assert 3400 <= limit <= 3950
    y, _ = tok.decode(t)
    Y = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    assert Y[f > limit + 50].sum() < 1e-4 * Y.sum()
    # without the limit the decoder invents an upper band
    t_wide = speechtok.Tokens(**{**t.__dict__, "extra": {k: v for k, v in t.extra.items() if k != "band_limit_hz"}})
    yw, _ = tok.decode(t_wide)
    Yw = np.abs(np.fft.rfft(yw)) ** 2
    assert Yw[f > limit + 50].sum() > 100 * Y[f > limit + 50].sum()
    # the limit survives a token file
    assert tok.encode(clip, SR).extra.get("band_limit_hz") is None


def test_in_band_codewords_beat_full_band_ones_on_the_band(clip):
    """The point of the metric: inside the band, the decoded envelope is closer to the input's."""
    tok = speechtok.load("speechtok-fast@1.45kbps")
    c = tok.codec
    nb = _lowpass(clip, 3800.0)
    fr = c.analyze(nb)
    limit = c.band_limit(nb)
    L = c.metric(limit)
    x = c.features(fr)
    errs = []
    for lim in (None, limit):
        codes = c.quantize(fr, tok.stages, None, lim)
        deq = c.features(c.dequantize(codes, refine=False))
        errs.append(float((((deq - x) @ L) ** 2).mean()))
    assert errs[1] < 0.8 * errs[0], errs


def test_a_bad_band_limit_in_a_token_file_is_refused(clip):
    tok = speechtok.load("speechtok-fast@1.45kbps")
    t = tok.encode(clip[:8000], SR)
    for bad in ("4000", 10, 1e9, True):
        t.extra["band_limit_hz"] = bad
        with pytest.raises(TokensFileError, match="band_limit_hz"):
            tok.decode(t)


# ---- the corpus builders ------------------------------------------------------------------------

def test_voice_splits_never_put_a_held_out_voice_in_training():
    from speechtok.data.speech import HELD_OUT, TEST_REAL, assign_voice_splits

    ast = [Utterance(f"en/{i}", f"/a/{i}.wav", 2.0, "allison_smith", "en", "t", s)
           for i, s in enumerate(["train"] * 8 + ["valid", "test"])]
    others = [Utterance(f"{v}/{i}", f"/b/{v}{i}.wav", 2.0, v, "xx") for v in
              ("ru_ivrvoice", "es_co", "fr_armelle", "festival_kal", "flite_slt", "festival_ked") for i in range(30)]
    s = assign_voice_splits(ast, others, seed=0, valid_per_voice=5, test_per_voice=7)
    train_voices = {u.speaker for u in s["train"]}
    assert train_voices == {"allison_smith", "festival_kal"}
    assert not train_voices & set(HELD_OUT)
    assert {u.speaker for u in s["test-voices"]} == {"ru_ivrvoice", "es_co"} <= set(TEST_REAL)
    assert all(sum(u.speaker == v for u in s["test-voices"]) == 7 for v in ("ru_ivrvoice", "es_co"))
    assert {u.speaker for u in s["valid-voices"]} == {"fr_armelle", "festival_ked"}
    assert [u.id for u in s["test"]] == ["en/9"]
    # fixed by the seed and the ids: the same selection again
    s2 = assign_voice_splits(ast, list(reversed(others)), seed=0, valid_per_voice=5, test_per_voice=7)
    assert [u.id for u in s2["test-voices"]] == [u.id for u in s["test-voices"]]


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@needs_ffmpeg
def test_prompt_voice_builder_decodes_narrowband_gsm_to_16k(tmp_path, monkeypatch, clip):
    """A fake unpacked package with two GSM prompts and a beep, as asterisk-prompt-es-co has them."""
    import soundfile as sf

    from speechtok.data import prompts

    root = tmp_path / "pkg"
    folder = root / prompts.VOICES["es_co"].folder
    folder.mkdir(parents=True)
    sf.write(tmp_path / "a.wav", clip, SR)
    for name in ("vm-goodbye", "auth-thankyou", "beep"):
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(tmp_path / "a.wav"), "-ar", "8000", "-ac", "1",
                        "-f", "gsm", str(folder / f"{name}.gsm")], check=True)
    monkeypatch.setattr(prompts, "package_root", lambda package, cache=None: root)
    monkeypatch.setattr(prompts, "speech_names", lambda voice: None)
    utts = prompts.build_prompt_voices(tmp_path / "out", voices=("es_co",), progress=False)
    assert sorted(u.id for u in utts) == ["es_co/auth-thankyou", "es_co/vm-goodbye"]  # the beep is not speech
    rows = read_manifest(tmp_path / "out" / "all.jsonl")
    x, sr = sf.read(rows[0].path)
    assert sr == SR and abs(len(x) / SR - len(clip) / SR) < 0.1
    assert rows[0].speaker == "es_co" and rows[0].language == "es"
    lim = detect_band_limit(x, sr)
    assert lim is not None and lim <= 4200  # GSM at 8 kHz stays narrowband
    # rerun: resumes, same manifest
    again = prompts.build_prompt_voices(tmp_path / "out", voices=("es_co",), progress=False)
    assert [u.id for u in again] == [u.id for u in utts]


@pytest.mark.skipif(shutil.which("flite") is None or shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
                    reason="flite, espeak-ng and ffmpeg are needed")
def test_synthetic_voice_builder_reads_prompts_with_two_engines(tmp_path, monkeypatch):
    import soundfile as sf

    from speechtok.data import synthetic

    monkeypatch.setattr(synthetic, "texts", lambda language, cache=None: ["please hold the line", "thank you for calling today",
                                                                          "the number you have dialed"])
    utts = synthetic.build_synthetic_voices(tmp_path, voices=("flite_kal16", "espeak_en-us+m3"), per_voice=2, progress=False)
    assert sorted({u.speaker for u in utts}) == ["espeak_en-us+m3", "flite_kal16"]
    assert len(utts) == 4
    for u in utts:
        x, sr = sf.read(Path(tmp_path) / u.path if not Path(u.path).is_absolute() else u.path)
        assert sr == SR and len(x) > SR // 2 and np.abs(x).max() > 0.01
    with pytest.raises(Exception, match="unknown voice"):
        synthetic.build_synthetic_voices(tmp_path, voices=("nobody",), progress=False)


def test_debian_package_root_reports_a_package_it_cannot_get(tmp_path):
    from speechtok.data.debian import package_root
    from speechtok.errors import MissingDependencyError

    if shutil.which("apt-get") is None:
        pytest.skip("not a Debian system")
    with pytest.raises(MissingDependencyError, match="no-such-package-speechtok"):
        package_root("no-such-package-speechtok", tmp_path)


# ---- augmentation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [0.88, 1.0, 1.12])
def test_vocal_tract_warp_moves_formants_by_the_factor(factor):
    from speechtok.codec.sourcefilter.augment import warp_envelope
    from speechtok.codec.sourcefilter.envelope import from_cepstrum

    f = np.linspace(0, SR / 2, 257)
    log_amp = (2.0 * np.exp(-0.5 * ((f - 1000) / 120) ** 2) + 1.5 * np.exp(-0.5 * ((f - 2500) / 150) ** 2))[None]
    cep = to_cepstrum(log_amp.astype(np.float32), 40, 0.42)
    out = from_cepstrum(warp_envelope(cep, factor, 0.42), 257, 0.42)[0]
    for formant in (1000, 2500):
        near = (f > formant * factor * 0.85) & (f < formant * factor * 1.15)
        peak = f[near][np.argmax(out[near])]
        assert abs(peak - formant * factor) <= 0.03 * formant * factor, (formant, factor, peak)


def test_augment_frames_is_seeded_and_changes_pitch_and_level_as_said(speech_clips):
    from speechtok.codec.sourcefilter.augment import augment_frames, scale_f0, shift_level

    tok = speechtok.load("speechtok-fast@1.45kbps")
    frs = [tok.codec.analyze(w) for _, w, _ in speech_clips[:2]]
    from speechtok.codec.sourcefilter.analysis import Frames

    fr = Frames(*(np.concatenate([getattr(x, k) for x in frs]) for k in ("f0", "cep", "bap")))
    lengths = [len(x) for x in frs]
    a = augment_frames(fr, lengths, 0.42, seed=3)
    b = augment_frames(fr, lengths, 0.42, seed=3)
    assert np.array_equal(a.cep, b.cep) and np.array_equal(a.f0, b.f0)
    assert not np.array_equal(a.cep, fr.cep)
    assert np.array_equal(a.f0 > 0, fr.f0 > 0)  # voicing never changes
    assert np.allclose(scale_f0(np.array([0.0, 100.0]), 1.5), [0.0, 150.0])
    assert np.allclose(shift_level(fr.cep, 20.0)[..., 0] - fr.cep[..., 0], np.log(10))
    none = augment_frames(fr, lengths, 0.42, seed=3, fraction=0.0)
    assert np.array_equal(none.cep, fr.cep)


# ---- adaptation to a voice ----------------------------------------------------------------------------

def _voice_folder(tmp_path, speech_clips, pieces=6):
    """One 'user voice': the English and Spanish clips (one speaker) cut into 1 s recordings,
    made to sound like another vocal tract (resampled by 1.12: formants and pitch up)."""
    import soundfile as sf
    from scipy.signal import resample

    folder = tmp_path / "me"
    folder.mkdir()
    k = 0
    for name, w, _ in speech_clips[:2]:
        w = resample(w, int(len(w) / 1.12)).astype(np.float32)
        for i in range(0, len(w) - SR, SR):
            sf.write(folder / f"{k:02d}.wav", w[i : i + SR], SR)
            k += 1
    return folder


def test_map_adaptation_lowers_the_error_on_the_adapted_voice(tmp_path, speech_clips):
    from speechtok.codec.sourcefilter.adapt import map_adapt_codebooks

    tok = speechtok.load("speechtok-fast@1.45kbps")
    import copy

    codec = copy.deepcopy(tok.codec)
    folder = _voice_folder(tmp_path, speech_clips)
    from speechtok.audio import load_audio

    frs = [codec.analyze(load_audio(f, SR)[0]) for f in sorted(folder.glob("*.wav"))]
    from speechtok.codec.sourcefilter.analysis import Frames

    cat = lambda fs: Frames(*(np.concatenate([getattr(f, k) for f in fs]) for k in ("f0", "cep", "bap")))  # noqa: E731
    train, held = cat(frs[:-2]), cat(frs[-2:])

    def err(c, fr):
        x = c.features(fr)
        return float(((c.rvq.decode(c.rvq.encode(x)) - x) ** 2).mean())

    before = err(codec, held)
    other = tok.codec.analyze(speech_clips[2][1])  # a voice not adapted to
    other_before = err(codec, other)
    map_adapt_codebooks(codec, train, relevance=16.0)
    assert err(codec, held) < 0.99 * before  # 8 s of speech: a small but real step (20 min of a real voice: -20 %)
    assert err(codec, other) < 1.3 * other_before  # the other voices keep most of their quality
    assert not torch.equal(codec.rvq.codebooks, tok.codec.rvq.codebooks)  # the shipped model is untouched


def test_train_init_data_adapts_a_shipped_model_into_a_run_folder(tmp_path, speech_clips):
    import json

    from speechtok.codec.sourcefilter.adapt import adapt

    folder = _voice_folder(tmp_path, speech_clips)
    from speechtok.data.manifest import list_inputs, write_manifest

    write_manifest(tmp_path / "me.jsonl", list_inputs(folder))
    report = adapt("speechtok-fast", str(tmp_path / "me.jsonl"), tmp_path / "run", refiner_steps=3, progress=False)
    assert report["held_out_utterances"] >= 1 and report["adapt_utterances"] > report["held_out_utterances"]
    assert np.mean(report["valid_mse_after"]) < np.mean(report["valid_mse_before"])
    assert json.loads((tmp_path / "run" / "adaptation.json").read_text())["init"] == "speechtok-fast"
    tok = speechtok.load(str(tmp_path / "run"))
    assert tok.name == "speechtok-fast-adapted"
    y, _ = tok.decode(tok.encode(speech_clips[0][1], SR))
    assert len(y) == len(speech_clips[0][1]) and np.isfinite(y).all()


def test_train_cli_adaptation_errors_are_one_line(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "speechtok", "train", "--data", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and "--init" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "speechtok", "train", "--init", "opus@6kbps", "--data",
                        "speechtok/assets/clips/clips.jsonl", "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and "source-filter" in r.stderr and "Traceback" not in r.stderr


# ---- per-utterance normalization --------------------------------------------------------------------

@pytest.fixture(scope="module")
def normalized_tok(speech_clips):
    """A tiny source-filter model with quant.normalize utterance, fitted on the shipped clips."""
    from speechtok.codec.sourcefilter.analysis import Frames
    from speechtok.codec.sourcefilter.config import SourceFilterConfig
    from speechtok.codec.sourcefilter.model import SourceFilterCodec
    from speechtok.codec.sourcefilter.tokenizer import SourceFilterTokenizer
    from speechtok.codec.sourcefilter.train import fit_codebooks

    cfg = SourceFilterConfig()
    cfg.quant.codebook_size, cfg.quant.num_stages, cfg.quant.kmeans_iters = 64, 2, 5
    cfg.quant.normalize = "utterance"
    codec = SourceFilterCodec(cfg)
    frs = [codec.analyze(w) for _, w, _ in speech_clips]
    allf = Frames(*(np.concatenate([getattr(f, k) for f in frs]) for k in ("f0", "cep", "bap")))
    allf.lengths = np.array([len(f) for f in frs])
    fit_codebooks(codec, allf, progress=False)
    return SourceFilterTokenizer(codec, "tiny-normalized", "test")


def test_side_mean_round_trip_is_within_half_a_step(normalized_tok):
    c = normalized_tok.codec
    x = torch.randn(50, c.cfg.feature_dim) * 0.3 + torch.linspace(-1, 1, c.cfg.feature_dim)
    q = c.quantize_mean(x)
    assert q.dtype == np.int64 and q.shape == (c.cfg.quant.mean_order,)
    d = c.dequantize_mean(q)
    want = x[:, :48].reshape(50, 2, 24).mean((0, 1))[: len(q)]
    steps = np.array([c.MEAN_STEP_C0] + [c.MEAN_STEP] * (len(q) - 1))
    assert np.all(np.abs(d[: len(q)].numpy() - want.numpy()) <= steps / 2 + 1e-6)
    assert torch.equal(d[:24], d[24:48]) and not d[48:].any()  # both subframes, never the aperiodicity


def test_normalization_makes_the_codes_blind_to_the_level(normalized_tok, speech_clips):
    """+10 dB changes the side mean's level term by 10 dB and (almost) no envelope code."""
    x = speech_clips[0][1]
    a, b = normalized_tok.encode(x, SR), normalized_tok.encode(np.clip(x * 10 ** 0.5, -1, 1), SR)
    qa, qb = np.array(a.extra["envelope_mean"]), np.array(b.extra["envelope_mean"])
    c0 = (qb[0] - qa[0]) * normalized_tok.codec.MEAN_STEP_C0 * 20 / np.log(10)
    assert abs(c0 - 10.0) < 1.0, c0
    assert np.mean(a.codes[1:] == b.codes[1:]) > 0.8
    # its bitrate counts the side mean
    assert a.extra["payload_bits"] == a.codes.shape[1] * (7 + 2 * 6) + 6 * 16  # pitch + 2 stages of 64, 16 x 6 side bits
    y, _ = normalized_tok.decode(a)
    assert len(y) == len(x)


def test_a_bad_side_mean_is_refused_and_a_missing_one_is_the_global_mean(normalized_tok, speech_clips):
    t = normalized_tok.encode(speech_clips[0][1][:16000], SR)
    for bad in ([1] * 3, ["a"] * 16, [99] * 16, "0"):
        t.extra["envelope_mean"] = bad
        with pytest.raises(TokensFileError, match="envelope_mean"):
            normalized_tok.decode(t)
    # codes without one (an LM's samples, a live stream's) decode with the model's global mean
    t.extra["envelope_mean"] = [0] * 16
    zero, _ = normalized_tok.decode(t)
    del t.extra["envelope_mean"]
    y, _ = normalized_tok.decode(t)
    assert np.array_equal(y, zero)


def test_stream_given_the_side_facts_equals_whole_file_and_long_files_keep_them(normalized_tok, speech_clips):
    """A stream told the band limit and side mean gives the whole-file codes; a file long enough to
    be decoded in chunks keeps both (no invented upper band, the same audio)."""
    x = np.concatenate([w for _, w, _ in speech_clips])
    nb = _lowpass(x, 3800.0)
    whole = normalized_tok.encode(nb, SR)
    limit, mean = whole.extra["band_limit_hz"], whole.extra["envelope_mean"]
    s = normalized_tok.open_stream(band_limit=limit, envelope_mean=mean)
    codes = [s.encode(nb[i : i + 3000]) for i in range(0, len(nb), 3000)] + [s.encode_flush()]
    assert np.array_equal(np.concatenate(codes, 1), whole.codes)
    # 130 s: decoded 30 s at a time through a session that carries the same facts
    reps = int(np.ceil(130 * SR / len(nb)))
    long = normalized_tok.encode(np.tile(nb, reps), SR)
    c = normalized_tok.codec
    y, _ = normalized_tok.decode(long)
    ref = c.decode(long.codes, len(y), band_limit=long.extra["band_limit_hz"], mean=long.extra["envelope_mean"])
    assert np.abs(y - ref[: len(y)]).max() < 1e-3
    Y = np.abs(np.fft.rfft(y[: 20 * SR])) ** 2
    f = np.fft.rfftfreq(20 * SR, 1 / SR)
    assert Y[f > long.extra["band_limit_hz"] + 50].sum() < 1e-4 * Y.sum()


# ---- the source-filter trainer killed and resumed ------------------------------------------------------

def test_sourcefilter_train_killed_then_resumed_gives_the_uninterrupted_weights(tmp_path):
    """SIGKILL in the middle of the refiner (after a checkpoint), then `--resume`: model.safetensors is
    byte-identical to an uninterrupted run's (each step's batch depends on the step alone)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    repo = Path(__file__).resolve().parent.parent
    clips = repo / "speechtok" / "assets" / "clips" / "clips.jsonl"
    cfg = {"design": "sourcefilter", "name": "tiny-kill",
           "model": {"quant": {"codebook_size": 32, "num_stages": 2, "kmeans_iters": 3},
                     "refiner": {"channels": 16, "layers": 2}},
           "data": {"train": str(clips), "valid": str(clips)},
           "train": {"refiner_steps": 1500, "refiner_batch": 4, "refiner_segment": 40, "checkpoint_every": 25,
                     "valid_every": 100}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    env = dict(os.environ, PYTHONPATH=str(repo), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "speechtok", "train", str(tmp_path / "tiny.yaml"), "--no-progress"]
    r = subprocess.run(cmd + ["--out", str(tmp_path / "straight")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-500:]
    proc = subprocess.Popen(cmd + ["--out", str(tmp_path / "killed")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "killed" / "refiner.ckpt"
    deadline = time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL and ckpt.exists()
    assert not (tmp_path / "killed" / "model.safetensors").exists()  # killed before the end
    r = subprocess.run(cmd + ["--out", str(tmp_path / "killed"), "--resume"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-500:]
    assert (tmp_path / "straight" / "model.safetensors").read_bytes() == (tmp_path / "killed" / "model.safetensors").read_bytes()
