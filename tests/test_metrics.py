"""Each metric on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from speechtok.data import shipped_clips
from speechtok.eval import metrics as M
from speechtok.eval.metrics import content, perceptual, prosody, signal
from speechtok.eval.stats import bootstrap_ci, summarize

SR = 16000


@pytest.fixture(scope="module")
def speech():
    """(English clip at 16 kHz, its transcript)."""
    from speechtok.audio import load_audio

    u = next(c for c in shipped_clips() if c.language == "en")
    return load_audio(u.path, SR)[0], u.text


def noise_at_snr(x, snr_db, seed=0):
    n = np.random.default_rng(seed).standard_normal(len(x))
    n *= np.sqrt(np.mean((x - x.mean()) ** 2) / np.mean(n**2) / 10 ** (snr_db / 10))
    return (x + n).astype(np.float32)


def tone(f0, seconds=1.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * np.cumsum(np.broadcast_to(f0, t.shape)) / sr)).astype(np.float32)


# ---- signal ----------------------------------------------------------------------------------
def test_signal_distances_are_zero_for_identical_signals(speech):
    x, _ = speech
    assert signal.log_mel_l1(x, x, SR) == 0.0
    assert signal.mrstft(x, x) == 0.0


def test_log_mel_l1_of_doubled_amplitude_is_ln2():
    x = tone(300.0) + 0.05 * np.random.default_rng(1).standard_normal(SR).astype(np.float32)  # no band below 1e-5
    assert signal.log_mel_l1(x, 2 * x, SR) == pytest.approx(np.log(2), abs=1e-6)


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_si_sdr_of_white_noise_matches_snr(speech, snr):
    x, _ = speech
    assert signal.si_sdr(x, noise_at_snr(x, snr)) == pytest.approx(snr, abs=0.3)


def test_si_sdr_is_scale_invariant_and_rejects_silence(speech):
    x, _ = speech
    y = noise_at_snr(x, 10.0)
    assert signal.si_sdr(x, 0.3 * y) == pytest.approx(signal.si_sdr(x, y), abs=1e-6)
    with pytest.raises(ValueError, match="silent"):
        signal.si_sdr(np.zeros(SR, np.float32), y[:SR])


def test_mrstft_grows_with_noise(speech):
    x, _ = speech
    assert 0 < signal.mrstft(x, noise_at_snr(x, 30)) < signal.mrstft(x, noise_at_snr(x, 5))


# ---- perceptual ------------------------------------------------------------------------------
def test_pesq_of_identical_signals_is_its_maximum(speech):
    x, _ = speech
    assert perceptual.pesq_wb(x, x) == pytest.approx(4.644, abs=0.01)
    x8 = M.resample(x, SR, 8000)
    assert perceptual.pesq_nb(x8, x8, 8000) == pytest.approx(4.549, abs=0.01)
    assert perceptual.pesq_wb(x, noise_at_snr(x, 5)) < 2.0


def test_stoi_is_one_for_identical_and_lower_for_noise(speech):
    x, _ = speech
    assert perceptual.stoi(x, x) == pytest.approx(1.0, abs=1e-6)
    assert perceptual.stoi(x, noise_at_snr(x, -5)) < 0.9


def test_dnsmos_prefers_clean_speech_to_noisy(speech):
    x, _ = speech
    clean, noisy = perceptual.dnsmos(x), perceptual.dnsmos(noise_at_snr(x, 0))
    assert set(clean) == {"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}
    assert all(1.0 <= v <= 5.0 for v in clean.values())
    assert clean["dnsmos_bak"] > noisy["dnsmos_bak"] + 1.0  # white noise at 0 dB: background is awful
    assert clean["dnsmos_ovrl"] > noisy["dnsmos_ovrl"]


# ---- speaker ---------------------------------------------------------------------------------
def test_speaker_similarity_is_one_for_the_same_audio_and_lower_for_another_voice(speech):
    from speechtok.audio import load_audio
    from speechtok.eval.metrics.speaker import speaker_embedding, speaker_similarity

    x, _ = speech
    emb = speaker_embedding(x)
    assert speaker_similarity(emb, x) == pytest.approx(1.0, abs=1e-5)
    other = next(c for c in shipped_clips() if c.speaker != "allison_smith")
    assert speaker_similarity(emb, load_audio(other.path, SR)[0]) < 0.9


# ---- content ---------------------------------------------------------------------------------
def test_normalize_text():
    assert content.normalize_text("Please, ENTER  your phone-number!") == "please enter your phone number"
    assert content.normalize_text("l'indicatif régional.") == "l'indicatif régional"


def test_error_rates_on_known_strings():
    assert content.error_rates("the cat sat", "the cat sat") == (0.0, 0.0)
    wer, cer = content.error_rates("the cat sat on the mat", "the cat sat on a mat")
    assert wer == pytest.approx(1 / 6) and cer == pytest.approx(3 / 22)  # "the" -> "a": 1 substitution + 2 deletions
    assert content.error_rates("the cat", "") == (1.0, 1.0)
    with pytest.raises(ValueError, match="empty reference"):
        content.error_rates("?!", "hello")


def test_pocketsphinx_is_deterministic_and_hears_the_english_clip(speech):
    x, text = speech
    asr = content.get_asr("pocketsphinx")
    noisy = noise_at_snr(x, 10)
    first = asr.transcribe(x)
    asr.transcribe(noisy)
    assert asr.transcribe(x) == first  # the same audio gives the same text whatever came before
    wer, _ = content.error_rates(text, first)
    assert wer <= 0.5


def test_asr_scores_give_zero_dwer_for_the_original(speech):
    x, text = speech
    ev = M.UtteranceEvaluator(x, SR, text, "en")
    out = ev.score(M.BY_NAME["asr"], x)
    assert out["dwer"] == 0.0 and out["dcer"] == 0.0
    assert not M.applies(M.BY_NAME["asr"], "fr") and M.applies(M.BY_NAME["asr"], "en-US")


# ---- prosody ---------------------------------------------------------------------------------
def test_f0_of_a_pure_tone():
    f0 = prosody.f0_track(tone(200.0))
    assert np.median(f0) == pytest.approx(200.0, rel=0.01)


def test_f0_errors_of_a_shifted_vibrato():
    vib = 200 + 20 * np.sin(2 * np.pi * 3 * np.arange(SR) / SR)  # 180-220 Hz at 3 Hz
    ref_f0, voiced = prosody.reference_f0(tone(vib))
    same = prosody.f0_errors(ref_f0, voiced, tone(vib))
    assert same["f0_rmse"] < 1.0 and same["f0_corr"] > 0.99
    up = prosody.f0_errors(ref_f0, voiced, tone(vib * 1.1))  # 10% higher: about 20 Hz off
    assert up["f0_rmse"] == pytest.approx(20.0, rel=0.15) and up["f0_corr"] > 0.95
    assert same["f0_gpe"] == 0 and up["f0_gpe"] == 0  # 10 % is not a gross error
    octave = prosody.f0_errors(ref_f0, voiced, tone(vib / 2))
    assert octave["f0_gpe"] > 0.9  # an octave jump is
    assert same["vde"] < 0.05
    silent = np.zeros(SR, np.float32)
    gone = prosody.f0_errors(ref_f0, voiced, silent + 1e-4 * np.random.default_rng(0).standard_normal(SR).astype(np.float32))
    assert gone["vde"] > 0.8  # voicing lost everywhere


# ---- statistics and selection ----------------------------------------------------------------
def test_bootstrap_ci():
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    x = np.random.default_rng(0).normal(5.0, 1.0, 400)
    lo, hi = bootstrap_ci(x)
    assert lo < x.mean() < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.2)  # ±1.96 σ/√n
    s = summarize([], n_failed=3)
    assert s["mean"] is None and s["n_failed"] == 3


def test_select_metrics():
    assert [s.name for s in M.select(["signal"])] == ["log_mel_l1", "mrstft", "si_sdr"]
    assert [s.name for s in M.select(["wer", "stoi"])] == ["stoi", "asr"]
    with pytest.raises(ValueError, match="unknown metric"):
        M.select(["pesq_ultra"])
