"""Classic codecs as tokenizers (PCM, mu-law, Opus, Codec2) on real speech clips."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from scipy.signal import correlate

import speechtok
from speechtok.audio import resample
from speechtok.cli.codec_cmds import quality
from speechtok.errors import MissingDependencyError, UnknownTokenizerError
from speechtok.tokenizers import _clib, codec2, opus, pcm

pytest.importorskip("pystoi")

# STOI floors per clip, at 16 kHz against the original. Measured minimum over the 4 shipped clips
# and 8 espeak-ng sentences (pcm16 1.00, mulaw 0.99, opus 6/8/12/16: 0.75/0.90/0.95/0.97,
# opus@8kbps-wb 0.84, codec2 3200/2400/1600/1400/1300/1200/700C: 0.86/0.85/0.80/0.81/0.75/0.81/0.68),
# less a margin of about 0.05-0.07.
STOI_FLOOR = {
    "pcm16": 0.99, "mulaw": 0.97,
    "opus@6kbps": 0.70, "opus@8kbps": 0.85, "opus@12kbps": 0.90, "opus@16kbps": 0.92,
    "opus@8kbps-wb": 0.78, "opus@12kbps-wb": 0.90, "opus@16kbps-wb": 0.92,
    # VBR measured at or above CBR of the same rate on the shipped clips (min 0.91/0.95/0.97/0.98)
    "opus@6kbps-vbr": 0.70, "opus@8kbps-vbr": 0.85, "opus@12kbps-vbr": 0.90, "opus@16kbps-vbr": 0.92,
    "codec2@3200": 0.80, "codec2@2400": 0.79, "codec2@1600": 0.74, "codec2@1400": 0.75,
    "codec2@1300": 0.69, "codec2@1200": 0.75, "codec2@700C": 0.62,
}


def test_every_classic_codec_has_a_floor():
    assert set(pcm.names() + opus.names() + codec2.names()) == set(STOI_FLOOR)


@pytest.mark.parametrize("name", list(STOI_FLOOR))
def test_round_trip(name, speech_clips):
    tok = speechtok.load(name)
    assert tok.name == name and tok.version
    for clip, audio, sr in speech_clips:
        tokens = tok.encode(audio, sr)
        assert tokens.tokenizer == name and tokens.num_codebooks == tok.num_codebooks
        assert tokens.num_frames == pytest.approx(len(audio) / sr * tok.frame_rate, abs=tok.frame_rate * 0.03 + 1)
        wav, out_sr = tok.decode(tokens)
        assert out_sr == tok.sample_rate and wav.dtype == np.float32
        assert len(wav) == round(len(audio) * out_sr / sr)
        stoi = quality(audio, sr, wav, out_sr, metrics=("stoi",))["stoi"]
        assert stoi >= STOI_FLOOR[name], f"{name} on {clip}: STOI {stoi:.3f} < {STOI_FLOOR[name]}"


def test_floor_means_something(speech_clips):
    """Opus 16 kbps decoded 30 ms late falls far below its floor: the floors check alignment too."""
    tok = speechtok.load("opus@16kbps")
    _, audio, sr = speech_clips[0]
    wav, out_sr = tok.decode(tok.encode(audio, sr))
    late = np.concatenate([np.zeros(int(0.03 * out_sr), np.float32), wav])[: len(wav)]
    assert quality(audio, sr, late, out_sr, metrics=("stoi",))["stoi"] < STOI_FLOOR["opus@16kbps"] - 0.1


@pytest.mark.parametrize("name", ["pcm16", "mulaw", "opus@8kbps", "opus@6kbps-vbr", "codec2@1300"])
def test_batch_equals_one_by_one(name, speech_clips):
    tok = speechtok.load(name)
    audios = [a for _, a, _ in speech_clips] + [speech_clips[0][1][: len(speech_clips[0][1]) // 3]]
    rates = [sr for _, _, sr in speech_clips] + [speech_clips[0][2]]
    assert tok.encode_batch(audios, rates) == [tok.encode(a, sr) for a, sr in zip(audios, rates)]


# ---- Opus ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kbps", [6, 8])
def test_opus_vbr_carries_its_rate_and_beats_cbr(kbps, speech_clips):
    """VBR (opusenc's and ffmpeg's default): the measured payload rate is near the target, the
    zeros after each packet are not counted, and at the same rate it scores above CBR."""
    vbr, cbr = speechtok.load(f"opus@{kbps}kbps-vbr"), speechtok.load(f"opus@{kbps}kbps")
    assert vbr.codebook_sizes == (opus.VBR_PEAK * kbps * 5 // 2 + 1,) + (256,) * (opus.VBR_PEAK * kbps * 5 // 2)
    scores = {"vbr": [], "cbr": []}
    for _, audio, sr in speech_clips:
        t = vbr.encode(audio, sr)
        lengths = t.codes[0]
        assert lengths.min() >= 1 and lengths.max() <= vbr.max_bytes and len(set(lengths.tolist())) > 3  # variable
        for i in range(0, t.num_frames, 7):
            assert not t.codes[1 + lengths[i]:, i].any()  # nothing after the packet's end
        assert t.bits == lengths.sum() * 8 and t.bitrate / 1000 == pytest.approx(kbps, rel=0.1)
        assert speechtok.Tokens.from_bytes(t.to_bytes()) == t
        for key, tok, tokens in (("vbr", vbr, t), ("cbr", cbr, cbr.encode(audio, sr))):
            wav, out_sr = tok.decode(tokens)
            scores[key].append(quality(audio, sr, wav, out_sr, metrics=("pesq_wb",))["pesq_wb"])
    assert np.mean(scores["vbr"]) > np.mean(scores["cbr"]) + 0.1, scores


def test_opus_packets_are_cbr_without_extra_padding(speech_clips, monkeypatch):
    """libopus CBR fills each packet to the exact size itself: our opus_packet_pad fallback never runs."""
    def must_not_pad(*_):
        raise AssertionError("libopus produced a short CBR packet")

    monkeypatch.setattr(opus.libopus().lib, "opus_packet_pad", must_not_pad)
    for kbps, nbytes in [(6, 15), (8, 20), (12, 30), (16, 40)]:
        tok = speechtok.load(f"opus@{kbps}kbps")
        assert tok.codebook_sizes == (256,) * nbytes and tok.frame_rate == 50
        for _, audio, sr in speech_clips:
            tokens = tok.encode(audio, sr)
            # the measured bitrate is the bytes actually produced, x 8, over the duration
            assert tokens.bitrate == pytest.approx(tokens.codes.size * 8 / tokens.duration)
            assert kbps * 1000 <= tokens.bitrate < kbps * 1000 * 1.05


@pytest.mark.parametrize("name,max_lag", [("opus@6kbps", 4), ("opus@8kbps", 3), ("opus@12kbps", 2), ("opus@16kbps", 2)])
def test_opus_is_time_aligned(name, max_lag, speech_clips):
    """The encoder lookahead is removed: the cross-correlation peaks within a few samples of 0."""
    tok = speechtok.load(name)
    for clip, audio, sr in speech_clips:
        x = resample(audio, sr, 16000)
        y, _ = tok.decode(tok.encode(x, 16000))
        lag = int(np.argmax(correlate(y, x, "full"))) - (len(x) - 1)
        assert abs(lag) <= max_lag, f"{name} on {clip}: lag {lag} samples"


def _toc_bandwidths(tokens) -> set[int]:
    lib = opus.libopus().lib
    return {lib.opus_packet_get_bandwidth(bytes([int(b)])) for b in tokens.codes[0]}


def test_opus_forced_wideband(speech_clips):
    _, audio, sr = speech_clips[0]
    assert _toc_bandwidths(speechtok.load("opus@8kbps-wb").encode(audio, sr)) == {opus.BANDWIDTHS["wb"]}
    assert _toc_bandwidths(speechtok.load("opus@8kbps-nb").encode(audio, sr)) == {opus.BANDWIDTHS["nb"]}
    with pytest.raises(UnknownTokenizerError, match="cannot code WB below 8 kbps"):
        speechtok.load("opus@6kbps-wb")


@pytest.mark.parametrize("bad", ["opus@5kbps", "opus@6.1kbps", "opus@600kbps", "opus@fast", "opus@8kbps-fb"])
def test_opus_bad_names(bad):
    with pytest.raises(UnknownTokenizerError, match="opus@"):
        speechtok.load(bad)


def test_opus_any_bitrate_and_version():
    tok = speechtok.load("opus@24kbps")
    assert tok.num_codebooks == 60 and tok.bitrate == 24000
    assert tok.version.startswith("libopus 1.")
    assert speechtok.load("opus@6.4kbps").name == "opus@6.4kbps"


# ---- Codec2 ------------------------------------------------------------------------------------------
def test_codec2_tokens_carry_exactly_its_bits(speech_clips):
    bits = {"3200": (64, 50), "2400": (48, 50), "1600": (64, 25), "1400": (56, 25),
            "1300": (52, 25), "1200": (48, 25), "700C": (28, 25)}
    _, audio, sr = speech_clips[0]
    for mode, (bits_per_frame, frame_rate) in bits.items():
        tok = speechtok.load(f"codec2@{mode}")
        assert tok.frame_rate == frame_rate and tok.sample_rate == 8000
        assert tok.bitrate == bits_per_frame * frame_rate  # 1300 bps, not the 1400 of padded bytes
        tokens = tok.encode(audio, sr)
        assert tokens.bits == tokens.num_frames * bits_per_frame
    assert "codec2" in tok.version and tok.version != "codec2 (unknown build)"


def test_codec2_is_time_aligned(speech_clips):
    """Codec2 keeps the envelope, not the waveform: compare 1.25 ms log-energy envelopes and
    check that the best lag is near 0 once DECODER_DELAY is removed (median over the clips)."""
    def loge(a):
        n = len(a) // 10
        return np.log(np.mean(a[: n * 10].reshape(n, 10) ** 2, 1) + 1e-7)

    for mode in ("3200", "1300", "700C"):
        tok = speechtok.load(f"codec2@{mode}")
        lags = []
        for _, audio, sr in speech_clips:
            x = resample(audio, sr, 8000)
            y, _ = tok.decode(tok.encode(x, 8000))
            m = len(x) - 800
            shifts = range(-400, 400, 10)
            score = [np.corrcoef(loge(x[400:400 + m]), loge(y[400 + s:400 + s + m]))[0, 1] for s in shifts]
            lags.append(shifts[int(np.argmax(score))])
        assert abs(np.median(lags)) <= 60, f"codec2@{mode}: envelope lags {lags} samples at 8 kHz"


def test_codec2_bad_mode():
    with pytest.raises(UnknownTokenizerError, match="Codec2 modes are 3200"):
        speechtok.load("codec2@9600")
    assert speechtok.load("codec2@700c").name == "codec2@700C"


# ---- shared -------------------------------------------------------------------------------------------
def test_names_all_load():
    for family in (opus, codec2):
        for name in family.names():
            assert speechtok.load(name).name == name
    assert {"opus@6kbps", "opus@16kbps", "opus@8kbps-wb", "codec2@3200", "codec2@1300", "codec2@700C"} <= set(
        speechtok.available()
    )


@pytest.mark.parametrize("family,loader,apt", [(opus, "libopus", "libopus0"), (codec2, "libcodec2", "libcodec2-1.0")])
def test_missing_library_names_apt_get(monkeypatch, family, loader, apt):
    def no_library(name, *a, **k):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(_clib.ctypes, "CDLL", no_library)
    cached = getattr(family, loader)
    cached.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=f"apt-get install {apt}"):
            speechtok.load(family.names()[0])
    finally:
        monkeypatch.undo()
        cached.cache_clear()
    assert isinstance(cached().lib, ctypes.CDLL)  # and it loads again once the library is there
