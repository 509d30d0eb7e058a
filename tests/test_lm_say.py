"""`speechtok lm say`: a token LM with a text prefix (the autoregressive text to speech). The
layout's text sequences and weights, training on real transcribed clips, stopping, speculative
greedy decoding identical to plain greedy, the CLI and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from speechtok.corpus import JobOptions, run_job
from speechtok.data import shipped_clips
from speechtok.lm import Layout, SpeechLM, lm_config_from_dict
from speechtok.lm.train import LMTrainer

TINY = {"model": {"hidden": 32, "layers": 2, "heads": 2, "context": 400, "mtp_heads": 2},
        "train": {"batch_size": 2, "lr": 3e-3, "warmup_steps": 5, "valid_every": 0, "checkpoint_every": 1000,
                  "log_every": 1000, "accelerator": "cpu", "num_threads": 1}}


def clips_manifest() -> str:
    return str(shipped_clips()[0].path).rsplit("/", 1)[0] + "/clips.jsonl"


@pytest.fixture(scope="module")
def clip_tokens(tmp_path_factory):
    """The 4 shipped clips (en, es, fr, it; 14 s of real transcribed speech) as codec2@3200 tokens."""
    out = tmp_path_factory.mktemp("tok") / "codec2"
    run_job(JobOptions(tokenizer="codec2@3200", data=clips_manifest(), out=str(out), workers=1, progress=False), log=lambda *a: None)
    return out


def make_cfg(folder, layout="delay", codebooks=2, steps=60, **model):
    data = {k: dict(v) for k, v in TINY.items()}
    data["model"].update(model)
    data["data"] = {"train": str(folder), "text": clips_manifest(), "layout": layout, "codebooks": codebooks}
    data["train"]["steps"] = steps
    return lm_config_from_dict(data)


@pytest.fixture(scope="module")
def text_lm(clip_tokens, tmp_path_factory):
    run = tmp_path_factory.mktemp("lm") / "run"
    trainer = LMTrainer(make_cfg(clip_tokens, steps=300), run, progress=False)
    losses = [trainer.train_step(next(trainer.stream.batches(0))) for _ in range(1)]
    trainer.fit()
    return run, losses[0], trainer


@pytest.mark.parametrize("kind,k", [("delay", 3), ("first", 1)])
def test_text_sequences_and_weights(kind, k):
    """BOS phones SEP speech END EOS; weight 1 exactly on the speech ids and stream 0's END; and the
    generated steps of a text sequence decode back to its codes."""
    lay = Layout(kind, (8, 6, 5)[:k], text_vocab=10)
    assert lay.vocab_sizes[0] == 8 + 3 + 10 + 1 and lay.end == 8
    rng = np.random.default_rng(0)
    codes = np.stack([rng.integers(0, s, 7) for s in lay.codebook_sizes])
    phones = [3, 1, 9, 4]
    seq = lay.text_wrap(phones, codes)
    assert seq[0, 0] == lay.bos()[0] and list(seq[0, 1:5] - lay.text_offset) == phones and seq[0, 5] == lay.sep
    assert (seq[1:, 1:6] == lay.pad()[1:, None]).all()  # other streams pad under the text
    w = lay.text_weight(seq)
    content = lay.is_content(seq)[:, 1:]
    assert (w[content] == 1).all()
    extra = np.argwhere((w == 1) & ~content)
    assert len(extra) == 1 and extra[0][0] == 0 and seq[0, extra[0][1] + 1] == lay.end  # the one END
    assert lay.is_content(seq[:, : 6]).sum() == 0  # text and SEP are never trained on
    steps = seq[:, 6 : 6 + lay.text_steps(7)]  # what a sampler would have emitted after SEP
    assert np.array_equal(lay.text_generated_codes(steps, 7), codes)
    with pytest.raises(ValueError, match="text prefix needs"):
        Layout("flat", (8, 6), text_vocab=4)
    with pytest.raises(ValueError, match="phone ids"):
        lay.text_prefix([10])


def test_text_lm_learns_to_speak_and_stop(text_lm, clip_tokens):
    """Trained on the clips' texts, the LM's loss falls, the run folder keeps the phone set, and
    greedy `say` of a training sentence stops on its own at about the clip's length."""
    from speechtok.lm.data import iter_rows
    from speechtok.lm.say import LMVoice

    run, first_loss, trainer = text_lm
    assert trainer.train_step(next(trainer.stream.batches(0))) < 0.8 * first_loss
    lm = SpeechLM.load(run)
    assert lm.layout.text_vocab == len(lm.cfg.vocab["phones"]) > 20 and lm.cfg.vocab["text_languages"] == ["en", "es", "fr", "it"]
    voice = LMVoice(lm)
    rows = {r["id"]: r for r in iter_rows(clip_tokens)}
    codes = voice.codes("Please enter your phone number, starting with the area code.", "en")
    real = rows["en/privacy-prompt"]["codes"]
    assert codes.shape[0] == 2 and 0.5 * real.shape[1] < codes.shape[1] < 1.5 * real.shape[1]
    assert (codes >= 0).all() and (codes < 256).all()
    wav = voice.decode(codes)
    assert abs(len(wav) / voice.sample_rate - codes.shape[1] / lm.frame_rate) < 0.05


def test_say_stops_at_max_frames_and_samples(text_lm):
    run, _, _ = text_lm
    lm = SpeechLM.load(run)
    ids = lm.cfg.vocab["phones"]
    from speechtok.lm.text import TextPrefix

    phones = TextPrefix(lm.cfg.vocab).ids("Please enter your phone number.", "en")
    short = lm.say_codes(phones, 5, temperature=0)
    assert short.shape == (2, 5) and lm.last_steps == lm.layout.text_steps(5)
    a = lm.say_codes(phones, 300, temperature=1.0, top_k=20, seed=1)
    b = lm.say_codes(phones, 300, temperature=1.0, top_k=20, seed=1)
    assert np.array_equal(a, b) and a.shape[1] >= 1 and ids


@pytest.mark.parametrize("kind", ["delay", "first"])
def test_speculative_say_equals_plain_greedy(clip_tokens, tmp_path, kind):
    """MTP heads, a smaller LM and (single stream) the n-gram draft: `say` speculatively gives plain
    greedy `say`'s codes, stop included, id for id."""
    from speechtok.lm.data import iter_rows
    from speechtok.lm.speculative import LMDraft, MTPDraft, NgramDraft, speculative_generate
    from speechtok.lm.text import TextPrefix

    books = 2 if kind == "delay" else 1
    LMTrainer(make_cfg(clip_tokens, kind, books, steps=40), tmp_path / "run", progress=False).fit()
    LMTrainer(make_cfg(clip_tokens, kind, books, steps=10, hidden=16, layers=1, mtp_heads=0), tmp_path / "small", progress=False).fit()
    lm = SpeechLM.load(tmp_path / "run")
    # the LM drafting for itself is always right (the keep path, the END inside a kept block), the others mostly wrong
    drafts = [MTPDraft(lm), LMDraft(SpeechLM.load(tmp_path / "small"), lm), LMDraft(lm, lm)]
    if kind == "first":
        drafts.append(NgramDraft.fit(lm.layout, [r["codes"] for r in iter_rows(clip_tokens)], order=3))
    prefix = TextPrefix(lm.cfg.vocab)
    totals = {"proposed": 0, "accepted": 0}
    for text, lang, frames in (("Please enter your phone number.", "en", 200), ("Marque el asterisco.", "es", 30)):
        phones = prefix.ids(text, lang)
        plain = lm.say_codes(phones, frames, temperature=0)
        for draft in drafts:
            spec, stats = speculative_generate(lm, None, frames, draft, k=3, text=phones)
            assert np.array_equal(plain, spec), (draft.name, text)
            assert stats["steps"] == lm.layout.text_steps(plain.shape[1])
            for key in totals:
                totals[key] += stats[key]
    assert totals["accepted"] > 0  # (the reject path: the small LM and the heads on the delay layout are mostly wrong)
    if kind == "delay":
        assert totals["accepted"] < totals["proposed"]


def test_cli_lm_say_and_errors(text_lm, clip_tokens, tmp_path, capsys):
    import soundfile as sf

    from speechtok.cli import main

    run, _, _ = text_lm
    out = tmp_path / "say.wav"
    assert main(["lm", "say", str(run), "Please enter your phone number. Starting with the area code!", "-o", str(out), "--speculative",
                 "--tokens-out", str(tmp_path / "t.npz")]) == 0
    wav, sr = sf.read(out)
    saved = np.load(tmp_path / "t.npz")
    assert abs(len(wav) / sr - saved["codes"].shape[1] / float(saved["frame_rate"])) < 0.05
    assert "2 sentence(s)" in capsys.readouterr().out
    for text, msg in (("", "empty"), ("Hello ☃", "character"), ("Привет", "language|phone")):
        assert main(["lm", "say", str(run), text, "-o", str(tmp_path / "x.wav"), "--language", "ru" if text == "Привет" else "en"]) != 0
        assert __import__("re").search(msg, capsys.readouterr().err)
    assert not (tmp_path / "x.wav").exists()
    # an LM trained without text says so
    plain = tmp_path / "plain"
    cfg = make_cfg(clip_tokens, steps=2)
    cfg.data.text = ""
    LMTrainer(cfg, plain, progress=False).fit()
    assert main(["lm", "say", str(plain), "Hello.", "-o", str(tmp_path / "y.wav")]) != 0
    assert "without text" in capsys.readouterr().err


def test_text_config_errors(clip_tokens, tmp_path):
    with pytest.raises(ValueError, match="layout first or delay"):
        make_cfg(clip_tokens, "flat", 2)
    cfg = make_cfg(clip_tokens)
    cfg.data.text = str(tmp_path / "missing.jsonl")
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        LMTrainer(cfg, tmp_path / "r", progress=False)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "text": "hello"}\nnot json\n')
    cfg.data.text = str(bad)
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        LMTrainer(cfg, tmp_path / "r2", progress=False)
