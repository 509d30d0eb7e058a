"""speechtok.tts: the front end, alignment, the length regulator, training, save/load/resume,
synthesis, the CLI and the /v1/tts endpoint, on the shipped real clips (fast, CPU)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("num2words")
if shutil.which("espeak-ng") is None:
    pytest.skip("espeak-ng is not installed", allow_module_level=True)

from speechtok.tts.align import durations_from_path, expand, frame_positions, mas  # noqa: E402
from speechtok.tts.frontend import PhoneSet, TextError, normalize_text, phonemize  # noqa: E402

CLIPS = Path(__file__).resolve().parent.parent / "speechtok" / "assets" / "clips"


# ---- front end ---------------------------------------------------------------------------------
def test_numbers_and_abbreviations_become_words():
    assert normalize_text("Dr. Smith has 3 cats and 21 dogs.", "en") == "doctor Smith has three cats and twenty-one dogs."
    assert "fifth" in normalize_text("the 5th floor", "en")
    assert normalize_text("$5", "en") == "five dollars"
    assert normalize_text("10%", "en") == "ten percent"
    assert "star" in normalize_text("press *", "en")
    assert normalize_text("2 cafés", "fr") == "deux cafés"
    assert normalize_text("1,250", "en") == "one thousand, two hundred and fifty"
    assert "veintiuno" in normalize_text("21", "es")


def test_phonemize_reads_unknown_words_and_keeps_pauses():
    p = phonemize("Blorptastic zindle, hello.", "en")  # not words: espeak-ng's letter-to-sound rules
    assert p[0] == "^" and p[-1] == "$"
    assert "," in p and p[-2] == "."
    assert len([x for x in p if x not in "^$_,.ˈˌ"]) >= 12
    assert phonemize("Is it?", "en")[-2] == "?"


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_refused(text):
    with pytest.raises(TextError, match="empty"):
        phonemize(text)


def test_unreadable_character_is_named():
    with pytest.raises(TextError, match="GRINNING FACE.*position 6"):
        phonemize("hello 😀")
    with pytest.raises(TextError, match="no words"):
        phonemize("...!")


def test_phone_set_refuses_phones_it_never_saw():
    ps = PhoneSet.from_sequences([phonemize("hello world", "en")])
    assert ps.ids(phonemize("hello", "en"))[0] == ps.index["^"]
    with pytest.raises(TextError, match="never occur"):
        ps.ids(phonemize("Веселье", "ru"))


# ---- alignment and the length regulator --------------------------------------------------------
def test_mas_finds_a_known_alignment():
    truth = np.array([3, 1, 4, 2, 5])
    N, T = len(truth), truth.sum()
    path_true = np.repeat(np.arange(N), truth)
    logp = np.random.default_rng(0).normal(0, 0.1, (N, T))
    logp[path_true, np.arange(T)] += 5.0
    assert np.array_equal(durations_from_path(mas(logp), N), truth)


@pytest.mark.parametrize("seed", range(5))
def test_mas_path_is_monotonic_and_visits_every_phone(seed):
    g = np.random.default_rng(seed)
    N = int(g.integers(1, 12))
    T = N + int(g.integers(0, 30))
    path = mas(g.normal(size=(N, T)))
    steps = np.diff(path)
    assert path[0] == 0 and path[-1] == N - 1
    assert set(np.unique(steps)) <= {0, 1}
    assert (durations_from_path(path, N) >= 1).all()
    with pytest.raises(ValueError, match="at least one frame per phone"):
        mas(np.zeros((5, 4)))


def test_length_regulator_repeats_by_durations():
    h = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)
    d = torch.tensor([[2, 0, 3], [1, 1, 1]])
    x = expand(h, d)
    assert x.shape == (2, 5, 2)
    assert torch.equal(x[0], torch.stack([h[0, 0], h[0, 0], h[0, 2], h[0, 2], h[0, 2]]))
    assert torch.equal(x[1, :3], h[1]) and torch.equal(x[1, 3:], torch.zeros(2, 2))
    pos = frame_positions(d, 5)
    assert (pos[..., 0] >= 0).all() and (pos[..., 0] <= 1).all()
    assert torch.allclose(pos[0, :2, 0], torch.tensor([0.25, 0.75]))


# ---- training, a voice, resume -----------------------------------------------------------------
def _manifest(tmp: Path) -> Path:
    rows = [json.loads(line) for line in (CLIPS / "clips.jsonl").read_text().splitlines()]
    for r in rows:
        r["path"] = str(CLIPS / r["path"])
    m = tmp / "clips.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return m


def _cfg(manifest: Path, steps: int, **train):
    from speechtok.tts.config import tts_config_from_dict

    return tts_config_from_dict({
        "name": "tiny-tts", "codec": "speechtok-base",
        "data": {"train": str(manifest)},
        "model": {"hidden": 32, "encoder_layers": 1, "decoder_layers": 2, "dropout": 0.0},
        "train": {"steps": steps, "batch_size": 4, "lr": 3e-3, "warmup_steps": 1, "log_every": 1, "valid_every": 0,
                  "checkpoint_every": 5, "num_threads": 1, **train},
    })


@pytest.fixture(scope="module")
def voice_dir(tmp_path_factory):
    from speechtok.tts.train import train

    tmp = tmp_path_factory.mktemp("tts")
    out = tmp / "voice"
    train(_cfg(_manifest(tmp), 40), out, progress=False, log=lambda *_: None)
    return out


def test_training_lowers_the_loss(voice_dir):
    log = [json.loads(x) for x in (voice_dir / "log.jsonl").read_text().splitlines()]
    assert len(log) == 40
    first = np.mean([r["loss"] for r in log[:5]])
    last = np.mean([r["loss"] for r in log[-5:]])
    assert last < 0.7 * first, (first, last)
    assert log[-1]["cpu_minutes"] > 0


def test_resume_continues_exactly(tmp_path):
    from safetensors.torch import load_file

    from speechtok.tts.train import train

    m = _manifest(tmp_path)
    train(_cfg(m, 10), tmp_path / "a", progress=False, log=lambda *_: None)
    train(_cfg(m, 10), tmp_path / "b", progress=False, log=lambda *_: None, steps_now=5)
    assert len((tmp_path / "b" / "log.jsonl").read_text().splitlines()) == 5
    train(_cfg(m, 10), tmp_path / "b", resume=True, progress=False, log=lambda *_: None)
    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    with pytest.raises(Exception, match="already holds a voice"):
        train(_cfg(m, 10), tmp_path / "a", progress=False, log=lambda *_: None)


def test_voice_loads_and_says_about_the_predicted_duration(voice_dir):
    from speechtok.tts import load

    v = load(voice_dir)
    assert v.voices == ["allison_smith", "carlo_flora", "june_wallack"]
    fr, dur, phones = v.frames("Please enter your number.", "allison_smith")
    assert len(dur) == len(phones) and int(dur.sum()) == len(fr) and (dur >= 1).all()
    wav = v.say("Please enter your number.", "allison_smith")
    assert wav.dtype == np.float32 and np.isfinite(wav).all() and np.abs(wav).max() > 1e-3
    assert abs(len(wav) - len(fr) * v.codec.hop) <= v.codec.hop
    direct = v.say("Please enter your number.", "allison_smith", through_tokens=False)
    assert abs(len(direct) - len(wav)) <= v.codec.hop
    tokens = v.tokens("Please enter your number.", "allison_smith")
    assert tokens.codes.shape[1] == len(fr) and tokens.tokenizer == v.tokenizer.name
    with pytest.raises(TextError, match="unknown voice 'nobody'"):
        v.say("hello", "nobody")
    with pytest.raises(TextError, match="empty"):
        v.say("  ")
    assert len(np.concatenate(list(v.stream("... your number ...", "allison_smith")))) > 0  # a sentence of dots is no sentence
    with pytest.raises(TextError, match="no words"):
        list(v.stream("... !", "allison_smith"))


def test_batch_equals_one_by_one(voice_dir):
    from speechtok.tts import load

    v = load(voice_dir)
    seqs = [v.phone_set.ids(phonemize(t, "en")) for t in ("Please enter your number.", "Please enter your phone number, starting with the area code.")]
    N = max(map(len, seqs))
    batch = torch.zeros(2, N, dtype=torch.long)
    for i, s in enumerate(seqs):
        batch[i, : len(s)] = torch.tensor(s)
    y, n, _ = v.model.infer(batch, torch.tensor([0, 0]))
    for i, s in enumerate(seqs):
        yi, ni, _ = v.model.infer(torch.tensor([s]), torch.tensor([0]))
        assert int(n[i]) == int(ni[0])
        assert torch.allclose(y[i, : int(n[i])], yi[0], atol=1e-4)


def test_cli_say_and_its_errors(voice_dir, tmp_path):
    exe = [sys.executable, "-m", "speechtok", "tts", "say"]
    out = tmp_path / "a.wav"
    r = subprocess.run(exe + ["Please enter your code.", "--model", str(voice_dir), "-o", str(out), "--tokens-out",
                              str(tmp_path / "a.stok")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    import soundfile as sf

    wav, sr = sf.read(out)
    assert sr == 16000 and len(wav) > 1600
    assert (tmp_path / "a.stok").stat().st_size > 0
    r = subprocess.run(exe + ["", "--model", str(voice_dir), "-o", str(tmp_path / "b.wav")], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode != 0 and "empty" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b.wav").exists()
    r = subprocess.run(exe + ["hi", "--model", str(tmp_path / "nope"), "-o", str(tmp_path / "c.wav")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "no TTS voice" in r.stderr


def test_tts_endpoint_streams_a_wav(voice_dir):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from speechtok.serve import create_app
    from speechtok.serve.tts import load_voices

    app = create_app(["pcm16"], voices=load_voices([str(voice_dir)]))
    with TestClient(app) as c:
        assert str(voice_dir) in c.get("/v1/voices").json()
        r = c.post("/v1/tts", json={"text": "Please enter your number. Starting with the area code.", "model": str(voice_dir)})
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        body = r.content
        assert body[:4] == b"RIFF" and body[36:40] == b"data" and len(body) > 44 + 3200
        assert c.post("/v1/tts", json={"text": " ", "model": str(voice_dir)}).status_code == 422
        assert "GRINNING" in c.post("/v1/tts", json={"text": "hi 😀", "model": str(voice_dir)}).json()["error"]
        assert c.post("/v1/tts", json={"text": "hi", "model": "nope"}).status_code == 404


def test_token_target_trains_on_another_tokenizer(voice_dir, tmp_path):
    """The DASB-style recipe: the same model predicting a tokenizer's tokens (here the 25 Hz
    codec's), durations from the parameter voice's alignment rescaled to 25 Hz."""
    from speechtok.tts import load
    from speechtok.tts.config import tts_config_from_dict
    from speechtok.tts.train import train

    cfg = _cfg(_manifest(tmp_path), 30)
    data = {"name": "tiny-tokens", "codec": "speechtok-fast-25hz", "target": "tokens", "durations_from": str(voice_dir),
            "data": {"train": cfg.data.train}, "model": {"hidden": 32, "encoder_layers": 1, "decoder_layers": 2, "dropout": 0.0},
            "train": {"steps": 30, "batch_size": 4, "lr": 3e-3, "warmup_steps": 1, "log_every": 1, "valid_every": 0,
                      "checkpoint_every": 10, "num_threads": 1}}
    train(tts_config_from_dict(data), tmp_path / "tok", progress=False, log=lambda *_: None)
    log = [json.loads(x) for x in (tmp_path / "tok" / "log.jsonl").read_text().splitlines()]
    assert np.mean([r["ce"] for r in log[-5:]]) < 0.8 * np.mean([r["ce"] for r in log[:5]])
    v = load(tmp_path / "tok")
    codes, dur, phones = v.frames("Please enter your number.", "allison_smith")
    assert codes.shape == (len(v.cfg.learned["codebook_sizes"]), int(dur.sum()))
    wav = v.say("Please enter your number.", "allison_smith")
    assert abs(len(wav) - codes.shape[1] * 640) <= 640 and np.isfinite(wav).all()
    with pytest.raises(ValueError, match="durations_from"):
        tts_config_from_dict({**data, "durations_from": ""})


def test_bench_scores_the_voice_beside_the_original(voice_dir, tmp_path):
    pytest.importorskip("pocketsphinx")
    pytest.importorskip("resemblyzer")
    from speechtok.tts import load
    from speechtok.tts.bench import bench_voice, markdown

    res = bench_voice(load(voice_dir), _manifest(tmp_path), limit=1, classic=False, progress=False, voice_name="allison_smith")
    s = res["summary"]
    assert set(s) == {"original recording", "codec resynthesis (topline)", "speechtok-tts (tiny-tts)"}
    orig, ours = s["original recording"], s["speechtok-tts (tiny-tts)"]
    assert orig["wer_corpus"] < 0.5  # pocketsphinx reads the real prompt
    assert orig["speaker_sim"] > ours["speaker_sim"] - 1e-6  # the original is its own reference
    assert ours["rtf"] > 0 and 0 < ours["first_audio_s"] < 10
    assert "| speechtok-tts (tiny-tts) |" in markdown(res)


# ---- durations from forced alignment (pocketsphinx) ----------------------------------------------
def test_words_front_end_marks_each_phone_with_its_word():
    from speechtok.tts.frontend import phonemize_words

    phones, index, words = phonemize_words("Dial 911, then wait.")
    assert words == ["dial", "nine", "hundred", "and", "eleven", "then", "wait"]
    assert phones[0] == "^" and phones[-1] == "$" and "," in phones
    assert [index[i] for i in range(len(phones)) if phones[i] in ("^", "$", "_", ",", ".")] == [-1] * sum(
        p in ("^", "$", "_", ",", ".") for p in phones)
    assert sorted(set(i for i in index if i >= 0)) == list(range(len(words)))
    assert all(a <= b for a, b in zip([i for i in index if i >= 0], [i for i in index if i >= 0][1:]))  # in order
    with pytest.raises(TextError, match="English only"):
        phonemize_words("Bonjour.", "fr")


def test_spans_keep_mas_inside_each_word():
    """A constrained alignment keeps every phone inside its span, even where the likelihood pulls
    it out; unconstrained phones (-1) go anywhere."""
    from speechtok.tts.align import constrain, durations_from_path, mas

    rng = np.random.default_rng(0)
    lp = rng.normal(size=(4, 20))
    lp[1, 15:] += 50  # phone 1 "wants" the late frames
    spans = np.array([[-1, -1], [2, 8], [6, 14], [-1, -1]])
    path = mas(constrain(lp, spans))
    for i in (1, 2):
        frames = np.flatnonzero(path == i)
        assert frames.min() >= spans[i, 0] and frames.max() <= spans[i, 1]
    assert durations_from_path(path, 4).sum() == 20
    assert (np.flatnonzero(mas(lp) == 1) >= 15).any()  # without the spans it would have gone there


def test_forced_alignment_items_bound_each_word(tmp_path):
    """alignment: pocketsphinx on the English clip: the aligned words are the text's, each word's
    phones get a span inside the utterance, spans advance with the words, and a step of training
    on those items keeps the durations inside them."""
    import torch

    from speechtok.tts.config import tts_config_from_dict
    from speechtok.tts.data import build_items, collate, read_manifest, target_stats
    from speechtok.tts.frontend import PhoneSet
    from speechtok.tts.model import build_model

    import speechtok

    rows = read_manifest(_manifest(tmp_path), languages=["en"])
    codec = speechtok.load("speechtok-base").codec
    items = build_items(rows, codec, "test", None, progress=False, alignment="pocketsphinx")
    assert len(items) == 1 and items[0].spans is not None
    it = items[0]
    words = it.spans[it.spans[:, 0] >= 0]
    assert (words[:, 0] <= words[:, 1]).all() and words[:, 1].max() < len(it.frames)
    assert (np.diff(words[:, 0]) >= 0).all() and words[0, 0] <= 0.2 * len(it.frames) <= words[-1, 1]
    cfg = tts_config_from_dict({"data": {"train": "x", "alignment": "pocketsphinx", "languages": ["en"]},
                                "model": {"hidden": 32, "encoder_layers": 1, "decoder_layers": 1}})
    cfg.learned = {"phones": PhoneSet.from_sequences([it.phones]).symbols, "voices": [it.speaker], "out_dim": it.frames.shape[1]}
    mean, std = target_stats(items)
    batch = collate(items, PhoneSet(cfg.learned["phones"]), {it.speaker: 0}, mean, std)
    assert batch[-1] is not None
    dur = build_model(cfg)(*batch)[2][0].numpy()
    ends = np.cumsum(dur)
    starts = ends - dur
    for i in np.flatnonzero(it.spans[:, 0] >= 0):
        if dur[i]:
            assert starts[i] >= it.spans[i, 0] and ends[i] - 1 <= it.spans[i, 1]
    with pytest.raises(ValueError, match="alignment"):
        tts_config_from_dict({"data": {"alignment": "pocketsphinx", "languages": ["fr"]}})
    assert torch.is_tensor(batch[0])
