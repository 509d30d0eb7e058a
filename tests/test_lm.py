"""Token LM: layouts and BPE invert exactly, a tiny LM learns real tokens, resume is exact, run
folders load, sampling respects the codebooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechtok.corpus import JobOptions, run_job
from speechtok.data import shipped_clips
from speechtok.lm import AcousticBPE, Layout, SpeechLM, lm_config_from_dict
from speechtok.lm.data import PackedStream, iter_rows
from speechtok.lm.train import LMTrainer

TINY = {"model": {"hidden": 32, "layers": 2, "heads": 2, "context": 48},
        "train": {"batch_size": 4, "lr": 3e-3, "warmup_steps": 5, "valid_every": 0, "checkpoint_every": 1000,
                  "log_every": 1000, "accelerator": "cpu", "num_threads": 1}}


@pytest.fixture(scope="module")
def clip_tokens(tmp_path_factory):
    """The 4 shipped clips (14 s of real speech) tokenized with codec2@3200: 8 codebooks of 256 at 50 Hz."""
    out = tmp_path_factory.mktemp("tok") / "codec2"
    manifest = str(shipped_clips()[0].path).rsplit("/", 1)[0] + "/clips.jsonl"
    run_job(JobOptions(tokenizer="codec2@3200", data=manifest, out=str(out), workers=1, progress=False), log=lambda *a: None)
    return out


def make_cfg(folder, **sections):
    data = {k: dict(v) for k, v in TINY.items()}
    data["data"] = {"train": str(folder)}
    for sec, values in sections.items():
        data.setdefault(sec, {}).update(values)
    return lm_config_from_dict(data)


def all_codes(folder):
    return [r["codes"] for r in iter_rows(folder)]


@pytest.mark.parametrize("kind", ["first", "flat", "delay"])
def test_layouts_invert_exactly(kind):
    rng = np.random.default_rng(0)
    sizes = (16, 8, 4)
    codes = np.stack([rng.integers(0, s, size=23) for s in sizes])
    lay = Layout(kind, sizes)
    ids = lay.encode(codes)
    assert np.array_equal(lay.decode(ids), codes[: lay.num_codebooks])
    assert (ids < np.array(lay.vocab_sizes)[:, None]).all()
    seq = lay.wrap(ids)
    assert (seq[:, 0] == lay.bos()).all() and (seq[:, -1] == lay.eos()).all()
    if kind == "delay":  # stream k is codebook k shifted right by k frames, PAD before and after
        assert ids.shape == (3, 23 + 2)
        assert np.array_equal(ids[2, 2:25], codes[2]) and (ids[2, :2] == lay.pad()[2]).all()
        assert (ids[0, 23:] == lay.pad()[0]).all()
        assert lay.is_content(seq).sum() == codes.size
    if kind == "flat":
        assert ids.shape == (1, 69) and ids[0, 1] == codes[1, 0] + 16 and ids[0, 2] == codes[2, 0] + 24


@pytest.mark.parametrize("kind", ["first", "flat", "delay"])
def test_skip_leaves_out_the_first_codebooks(kind):
    """skip=1: a source-filter codec's envelope codebooks without its pitch stream."""
    rng = np.random.default_rng(1)
    sizes = (128, 16, 16)
    codes = np.stack([rng.integers(0, s, size=11) for s in sizes])
    lay = Layout(kind, sizes[1:], skip=1)
    ids = lay.encode(codes)
    assert np.array_equal(lay.decode(ids), codes[1 : 1 + lay.num_codebooks])
    assert lay.base_vocab == (16 if kind == "first" else 32)
    with pytest.raises(ValueError, match="needs 3 codebooks"):
        Layout("flat", sizes[1:], skip=1).encode(codes[:2])
    from speechtok.lm.bench import Spec

    spec = Spec.parse("speechtok-base@0.9kbps+skip=1+layout=first")
    assert spec.skip == 1 and "data.skip_codebooks=1" in spec.overrides()


def test_acoustic_bpe_inverts_exactly_and_shortens(clip_tokens, tmp_path):
    lay = Layout("flat", (256,) * 2)
    seqs = [lay.encode(c)[0] for c in all_codes(clip_tokens)]
    bpe = AcousticBPE.train(seqs, lay.base_vocab, lay.base_vocab + 300)
    assert bpe.vocab_size == lay.base_vocab + 300
    total_in = total_out = 0
    for s in seqs:
        enc = bpe.encode(s)
        assert np.array_equal(bpe.decode(enc), s)
        total_in, total_out = total_in + len(s), total_out + len(enc)
    assert total_out < 0.9 * total_in  # merges learned on these sequences do shorten them
    # ids never seen in training still encode and decode (every base id is in the alphabet)
    unseen = np.arange(lay.base_vocab)
    assert np.array_equal(bpe.decode(bpe.encode(unseen)), unseen)
    bpe.save(tmp_path / "bpe.json")
    again = AcousticBPE.load(tmp_path / "bpe.json")
    assert np.array_equal(again.encode(seqs[0]), bpe.encode(seqs[0]))
    with pytest.raises(ValueError, match="ids must lie"):
        bpe.encode(np.array([lay.base_vocab]))
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        AcousticBPE.load(tmp_path / "bad.json")


def test_stream_packs_every_token_once(clip_tokens):
    lay = Layout("first", (256,))
    stream = PackedStream(clip_tokens, lay, context=32, batch_size=2, seed=0, shuffle_buffer=1)
    total = sum(c.shape[1] + 2 for c in all_codes(clip_tokens))  # BOS + frames + EOS per utterance
    windows = stream.windows()
    n = total // 32  # one epoch's full windows: each id is a target once, the next input starts at the last target
    got = [next(windows) for _ in range(n)]
    assert all(w.shape == (1, 33) for w in got)
    assert all(np.array_equal(a[:, -1], b[:, 0]) for a, b in zip(got, got[1:]))
    assert sum(w.shape[1] - 1 for w in got) <= total


def test_tiny_lm_learns_real_tokens_and_run_folder_loads(clip_tokens, tmp_path):
    cfg = make_cfg(clip_tokens, data={"layout": "first"}, train={"steps": 60})
    tr = LMTrainer(cfg, tmp_path / "run", progress=False)
    codes = all_codes(clip_tokens)
    before = SpeechLM(cfg, tr.layout, tr.model.module if hasattr(tr.model, "module") else tr.model).score(codes)
    bits_before = sum(s["bits"] for s in before) / sum(s["tokens"] for s in before)
    tr.fit()
    lm = SpeechLM.load(tmp_path / "run")
    after = lm.score(codes)
    bits_after = sum(s["bits"] for s in after) / sum(s["tokens"] for s in after)
    assert bits_before > 7.5  # ~log2(259) at random init
    assert bits_after < bits_before - 1.0, (bits_before, bits_after)
    assert [s["tokens"] for s in after] == [c.shape[1] for c in codes]
    # the loaded model is the trained one: scores agree with the in-memory weights
    live = SpeechLM(cfg, tr.layout, tr.model.module if hasattr(tr.model, "module") else tr.model).score(codes)
    assert np.allclose([s["bits"] for s in live], [s["bits"] for s in after], rtol=1e-5)
    # long utterances are scored in windows: same tokens counted, finite bits
    assert max(c.shape[1] for c in codes) > cfg.model.context


def test_resume_is_exact(clip_tokens, tmp_path):
    straight = LMTrainer(make_cfg(clip_tokens, data={"layout": "flat", "codebooks": 2}, train={"steps": 6}), tmp_path / "a", progress=False)
    straight.fit()
    half = LMTrainer(make_cfg(clip_tokens, data={"layout": "flat", "codebooks": 2}, train={"steps": 3}), tmp_path / "b", progress=False)
    half.fit()
    resumed = LMTrainer(make_cfg(clip_tokens, data={"layout": "flat", "codebooks": 2}, train={"steps": 6}), tmp_path / "b", progress=False)
    assert resumed.resume() and resumed.step == 3
    resumed.fit()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_delay_and_bpe_layouts_train_and_sample_valid_codes(clip_tokens, tmp_path):
    codes = all_codes(clip_tokens)
    for name, data in (("delay", {"layout": "delay", "codebooks": 3}), ("bpe", {"layout": "flat", "codebooks": 2, "bpe_vocab": 700})):
        LMTrainer(make_cfg(clip_tokens, data=data, train={"steps": 4}), tmp_path / name, progress=False).fit()
        lm = SpeechLM.load(tmp_path / name)
        k = lm.layout.num_codebooks
        out = lm.generate(codes[0][:, :20], frames=15, temperature=1.0, seed=1)
        assert out.shape == (k, 15) and out.min() >= 0 and (out < 256).all()
        assert np.array_equal(lm.generate(codes[0][:, :20], frames=10, temperature=0),
                              lm.generate(codes[0][:, :20], frames=10, temperature=0))
        scores = lm.score(codes[:2])
        expected = [c[:k].size for c in codes[:2]] if name == "delay" else [len(lm.layout.encode(c)[0]) for c in codes[:2]]
        assert [s["tokens"] for s in scores] == expected
    assert (tmp_path / "bpe" / "bpe.json").exists()


def test_config_and_data_errors(tmp_path, clip_tokens):
    with pytest.raises(ValueError, match="layout"):
        lm_config_from_dict({"data": {"layout": "zigzag"}})
    with pytest.raises(ValueError, match="unknown key"):
        lm_config_from_dict({"model": {"hiden": 3}})
    with pytest.raises(FileNotFoundError, match="nowhere"):
        LMTrainer(make_cfg(tmp_path / "nowhere"), tmp_path / "r", progress=False)
    with pytest.raises(ValueError, match="codebooks"):
        LMTrainer(make_cfg(clip_tokens, data={"codebooks": 9}), tmp_path / "r", progress=False)
    with pytest.raises(FileNotFoundError, match="not an LM run folder"):
        SpeechLM.load(tmp_path)


def test_kneser_ney_bits_equal_the_entropy_rate_of_a_known_source():
    from speechtok.lm.ngram import KneserNeyLM

    rng = np.random.default_rng(0)
    v = 6
    trans = rng.dirichlet(np.ones(v) * 0.5, size=v)
    evals, evecs = np.linalg.eig(trans.T)
    pi = np.real(evecs[:, np.argmin(abs(evals - 1))])
    pi /= pi.sum()
    rate = float(-(pi[:, None] * trans * np.log2(trans)).sum())  # bits per symbol of this Markov chain

    def chain(n):
        x = np.zeros(n, dtype=np.int64)
        x[0] = rng.choice(v, p=pi)
        for i in range(1, n):
            x[i] = rng.choice(v, p=trans[x[i - 1]])
        return x

    train, test = [chain(1000) for _ in range(60)], [chain(1000) for _ in range(10)]
    bigram = KneserNeyLM(v, 2).fit(train)
    bits = np.concatenate([bigram.bits(s)[:-1] for s in test]).mean()
    assert abs(bits - rate) < 0.03, (bits, rate)
    unigram = KneserNeyLM(v, 1).fit(train)
    assert np.concatenate([unigram.bits(s)[:-1] for s in test]).mean() > rate + 0.1  # context matters here
    # a distribution: next-id probabilities (plus EOS) sum to 1 after any context
    p = sum(2.0 ** -KneserNeyLM(v, 3).fit(train).bits(np.array([1, 2, w]))[2] for w in range(v))
    assert 0.98 < p <= 1.0


def test_bits_per_second_summary_of_known_scores():
    from speechtok.lm.measures import likelihood_summary

    rows = [{"bits": 100.0 * d, "tokens": 50 * d, "steps": 50 * d, "duration": float(d)} for d in (1, 2, 3)]
    s = likelihood_summary(rows)
    assert s["bits_per_second"] == pytest.approx(100.0) and s["bits_per_token"] == pytest.approx(2.0)
    assert s["perplexity"] == pytest.approx(4.0) and s["steps_per_second"] == pytest.approx(50.0)
    assert s["bits_per_second_ci"] == pytest.approx([100.0, 100.0])


def test_lexical_pairs_are_matched_and_scored():
    from speechtok.lm.lexical import build_pairs, item_outcomes, lexical_summary, paired_test, segments

    words = ["table", "garden", "little", "money", "simple", "butter", "window", "sister", "doctor", "pocket"]
    pairs = build_pairs(6, ["the little garden", "money sister " * 5], seed=0, words=words)
    assert len(pairs) == 6
    for p in pairs:
        w, n = segments(p["word_phonemes"]), segments(p["nonword_phonemes"])
        assert len(w) == len(n) and p["word_phonemes"] != p["nonword_phonemes"]  # same length, same shape
        diff = [(a, b) for (a, _), (b, _) in zip(w, n) if a != b]
        assert 1 <= len(diff) <= 2
        from speechtok.lm.lexical import CLASS_OF

        assert all(CLASS_OF[a] == CLASS_OF[b] for a, b in diff)  # a stop for a stop, a nasal for a nasal, ...
    assert {p["freq_bucket"] for p in pairs} == {"0", "1-4", "5+"}
    meta = {"voices": ["v1", "v2"], "held_out": ["v2"]}
    # an LM that always gives the word fewer bits is right on every item; the reverse never is
    good = {f"{v}/{p['pair']:05d}-{k}": {"bits": 10.0 if k == "w" else 12.0, "tokens": 5} for v in ("v1", "v2") for p in pairs for k in "wn"}
    bad = {k: {"bits": 22.0 - s["bits"], "tokens": 5} for k, s in good.items()}
    a, b = item_outcomes(pairs, meta, good), item_outcomes(pairs, meta, bad)
    assert len(a) == 12 and lexical_summary(a)["sum"]["all"]["acc"] == 100.0 and lexical_summary(b)["norm"]["all"]["acc"] == 0.0
    assert lexical_summary(a)["norm"]["held_out_voice"]["n"] == 6
    pt = paired_test(a, b)
    assert pt["diff"] == 100.0 and pt["a_only"] == 12 and pt["p_sign_test"] < 0.001


def test_bench_specs_parse():
    from speechtok.lm.bench import Spec

    s = Spec.parse("mfcc-kmeans@50hz:k500+bpe=2000")
    assert (s.tokenizer, s.layout, s.bpe) == ("mfcc-kmeans@50hz:k500", "flat", 2000)
    s = Spec.parse("speechtok-base+layout=delay+codebooks=4")
    assert (s.layout, s.codebooks) == ("delay", 4) and "/" not in s.slug
    with pytest.raises(ValueError, match="bad option"):
        Spec.parse("opus@6kbps+layout=spiral")


def test_cli_train_score_sample_and_errors(clip_tokens, tmp_path, capsys):
    import json as _json

    from speechtok.cli import main

    run = tmp_path / "run"
    tiny = ["--set", "model.hidden=32", "--set", "model.layers=1", "--set", "model.heads=2", "--set", "model.context=32",
            "--set", "train.batch_size=2", "--set", "train.accelerator=cpu", "--set", "data.codebooks=2"]
    assert main(["lm", "train", "--train", str(clip_tokens), "--out", str(run), "--steps", "3", "--no-progress", *tiny]) == 0
    assert (run / "model.safetensors").exists() and (run / "config.yaml").exists()
    # a second train into the same folder without --resume is refused, with the reason
    assert main(["lm", "train", "--train", str(clip_tokens), "--out", str(run), "--steps", "3", "--no-progress", *tiny]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["lm", "score", str(run), "--data", str(clip_tokens), "--out", str(tmp_path / "s.jsonl")]) == 0
    summary = _json.loads(capsys.readouterr().out)
    assert summary["utterances"] == 4 and summary["tokens_per_second"] == pytest.approx(100.0, rel=0.05)  # 2 codebooks x 50 Hz
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 4
    wav = tmp_path / "cont.wav"
    clip = shipped_clips()[0].path
    assert main(["lm", "sample", str(run), "--prompt", str(clip), "--prompt-seconds", "1", "--seconds", "0.5", "--out", str(wav)]) == 0
    import soundfile as sf

    assert sf.info(wav).duration == pytest.approx(1.5, abs=0.05)
    assert main(["lm", "score", str(tmp_path / "nope"), "--data", str(clip_tokens)]) == 2
    assert "not an LM run folder" in capsys.readouterr().err


SPEC_LAYOUTS = {"first": {"layout": "first"}, "flat": {"layout": "flat", "codebooks": 2},
                "bpe": {"layout": "flat", "codebooks": 2, "bpe_vocab": 600}, "delay": {"layout": "delay", "codebooks": 2}}


@pytest.mark.parametrize("name", list(SPEC_LAYOUTS))
def test_speculative_greedy_equals_plain_greedy(clip_tokens, tmp_path, name):
    """Every draft (MTP heads trained with the LM, a smaller LM, the n-gram), adaptive or fixed
    draft length: the output is plain greedy decoding's, id for id, across the context restart."""
    from speechtok.lm.speculative import LMDraft, MTPDraft, NgramDraft, speculative_generate

    data = SPEC_LAYOUTS[name]
    LMTrainer(make_cfg(clip_tokens, data=data, model={"mtp_heads": 2}, train={"steps": 30}), tmp_path / "run", progress=False).fit()
    LMTrainer(make_cfg(clip_tokens, data=data, model={"hidden": 16, "layers": 1}, train={"steps": 10}), tmp_path / "small",
              progress=False).fit()
    if "bpe_vocab" in data:  # the draft must read the same supertokens
        (tmp_path / "small" / "bpe.json").write_bytes((tmp_path / "run" / "bpe.json").read_bytes())
    lm = SpeechLM.load(tmp_path / "run")
    assert lm.mtp is not None and lm.mtp.num_heads == 2
    codes = all_codes(clip_tokens)
    drafts = [MTPDraft(lm), LMDraft(SpeechLM.load(tmp_path / "small"), lm)]
    if name != "delay":
        drafts.append(NgramDraft.fit(lm.layout, codes, order=3))
    totals = {"proposed": 0, "accepted": 0}
    for draft in drafts:
        for prompt, adaptive in ((codes[0][:, :10], True), (codes[1][:, :30], False), (None, True)):
            frames = 40  # flat 2 codebooks: 80 ids, past the 48-id context (the restart rule is exercised)
            plain = lm.generate(prompt, frames, temperature=0)
            spec, stats = speculative_generate(lm, prompt, frames, draft, k=3, adaptive=adaptive)
            assert np.array_equal(plain, spec), (draft.name, adaptive)
            assert stats["steps"] == lm.last_steps and stats["forwards"] <= stats["steps"] + 5  # + restarts
            for key in totals:
                totals[key] += stats[key]
    assert 0 < totals["accepted"] < totals["proposed"]  # both the keep and the reject paths ran


@pytest.mark.parametrize("kind", ["first", "flat", "delay"])
def test_speculative_with_the_lm_as_its_own_draft(kind):
    """An untrained LM (its greedy choice hangs on the whole context) drafting for itself: long
    runs of kept steps through the context restart, and still plain greedy decoding's output."""
    from speechtok.lm.model import TokenLM
    from speechtok.lm.speculative import LMDraft, speculative_generate

    torch.manual_seed(0)
    sizes = (256,) if kind == "first" else (256, 256)
    cfg = lm_config_from_dict({"model": {"hidden": 32, "layers": 2, "heads": 2, "context": 48}, "data": {"layout": kind}})
    cfg.vocab = {"tokenizer": "random", "frame_rate": 50.0, "codebook_sizes": list(sizes)}
    lay = Layout(kind, sizes)
    lm = SpeechLM(cfg, lay, TokenLM(cfg.model, lay.vocab_sizes))
    rng = np.random.default_rng(0)
    for _ in range(2):
        prompt = rng.integers(0, 256, size=(len(sizes), 10))
        spec, stats = speculative_generate(lm, prompt, 60, LMDraft(lm, lm), k=4)
        assert np.array_equal(lm.generate(prompt, 60, temperature=0), spec)
        assert stats["accepted"] > 0.7 * stats["proposed"] and stats["forwards"] < 0.5 * stats["steps"]


def test_mtp_heads_added_to_a_trained_lm(clip_tokens, tmp_path, capsys):
    """`speechtok lm mtp` trains heads on a frozen LM (its weights do not move), from the LM's own
    greedy continuations; the heads learn (loss falls), save beside the LM, load with it, and
    draft for `lm sample --speculative`."""
    import json as _json

    from speechtok.cli import main
    from speechtok.lm.model import MTPHeads
    from speechtok.lm.mtp import greedy_corpus, train_mtp_heads
    from speechtok.lm.speculative import LMDraft, MTPDraft, NgramDraft, make_draft

    run = tmp_path / "run"
    LMTrainer(make_cfg(clip_tokens, data={"layout": "flat", "codebooks": 2}, train={"steps": 30}), run, progress=False).fit()
    lm = SpeechLM.load(run)
    before = {k: v.clone() for k, v in lm.model.state_dict().items()}
    with pytest.raises(ValueError, match="speechtok lm mtp"):
        MTPDraft(lm)
    assert make_draft(lm).name == "ngram"  # auto without heads
    # the heads' loss on the LM's own greedy continuations falls from its untrained value
    rows = greedy_corpus(lm, str(clip_tokens), 4, progress=False)
    assert len(rows) == 4
    ids = torch.from_numpy(lm.layout.wrap(lm.layout.encode(rows[0]["codes"]))[:, :49])[None]
    w = torch.ones_like(ids[:, :, 1:], dtype=torch.float32)
    h, _ = lm.model.hidden_states(ids[:, :, :-1])
    fresh = MTPHeads(lm.cfg.model.hidden, lm.layout.vocab_sizes, 2).init_from(lm.model.heads)
    heads, summary = train_mtp_heads(lm, heads=2, steps=40, distill=4, lr=1e-2, progress=False)
    with torch.no_grad():
        assert float(heads.loss(h, ids, w)) < float(fresh.loss(h, ids, w)) - 0.5
    assert all(torch.equal(before[k], v) for k, v in lm.model.state_dict().items())

    assert main(["lm", "mtp", str(run), "--heads", "2", "--steps", "10", "--distill", "2", "--valid", str(clip_tokens), "--no-progress"]) == 0
    out = _json.loads(capsys.readouterr().out)
    assert out["heads"] == 2 and len(out["valid_accuracy"]) == 2
    assert main(["lm", "mtp", str(run), "--heads", "2", "--steps", "1", "--no-progress"]) == 2
    assert "--force" in capsys.readouterr().err
    loaded = SpeechLM.load(run)
    assert loaded.mtp is not None and loaded.mtp.num_heads == 2 and make_draft(loaded).name == "mtp"
    clip = shipped_clips()[0].path
    for draft in ("mtp", "ngram", str(run)):
        assert main(["lm", "sample", str(run), "--prompt", str(clip), "--prompt-seconds", "1", "--seconds", "0.4",
                     "--speculative", "--draft", draft, "--out", str(tmp_path / "s.wav"), "--overwrite"]) == 0
        assert f"({'lm' if draft == str(run) else draft} draft)" in capsys.readouterr().out
    # the speed-up measure: one JSON line per (draft, k, threads), identical output, a Markdown table
    assert main(["lm", "speedup", str(run), "--data", str(clip_tokens), "--draft", "mtp", "--draft", str(run), "--k", "2",
                 "--prompts", "1", "--prompt-seconds", "0.4", "--seconds", "0.3", "--out", str(tmp_path / "sp.jsonl"),
                 "--table", str(tmp_path / "sp.md")]) == 0
    rows = [_json.loads(line) for line in (tmp_path / "sp.jsonl").read_text().splitlines()]
    assert [(r["draft"], r["k"], r["identical"]) for r in rows] == [("mtp", 2, True), ("lm", 2, True)]
    assert rows[1]["acceptance"] > 0.9  # the LM drafting for itself
    assert (tmp_path / "sp.md").read_text().count("| yes |") == 2
    assert main(["lm", "passcost", "--hidden", "32", "--layers", "1", "--vocab", "100", "--blocks", "1", "3",
                 "--out", str(tmp_path / "pc.json")]) == 0
    cost = _json.loads((tmp_path / "pc.json").read_text())[0]
    assert cost["block_s"]["1"] > 0 and cost["mtp_s"] > 0 and (tmp_path / "pc.md").exists()
    capsys.readouterr()
    # drafts that cannot work say why
    assert main(["lm", "sample", str(run), "--seconds", "0.2", "--speculative", "--draft", "nonsense", "--out", str(tmp_path / "x.wav")]) == 2
    assert "neither mtp, ngram" in capsys.readouterr().err
    other = tmp_path / "other"
    LMTrainer(make_cfg(clip_tokens, data={"layout": "first"}, train={"steps": 2}), other, progress=False).fit()
    with pytest.raises(ValueError, match="the draft LM models"):
        LMDraft(SpeechLM.load(other), lm)
    with pytest.raises(ValueError, match="single-stream"):
        NgramDraft.fit(Layout("delay", (256, 256)), [])


def test_lm_bits_per_second_of_a_known_source_equal_its_entropy_rate(tmp_path):
    """Tokens drawn i.i.d. uniformly from 8 codes at 25 frames/s carry 3 bits per token, 75 bits/s:
    a trained LM's held-out bits/s must come out at that, and no lower."""
    from speechtok.corpus.shards import check_shard, commit_shard, write_index_and_card
    from speechtok.data.manifest import Utterance
    from speechtok.lm.measures import likelihood_summary
    from speechtok.tokens import Tokens

    rng = np.random.default_rng(0)

    def folder(name, n):
        out = tmp_path / name
        encoded = [(Utterance(id=f"u{i:03d}", path=f"u{i}.wav"),
                    Tokens(rng.integers(0, 8, size=(1, 200)), "iid8", "1", 25.0, (8,), 128000, 16000)) for i in range(n)]
        commit_shard(out, 0, 1, encoded, [])
        plan = {"tokenizer": "iid8", "tokenizer_version": "1", "frame_rate": 25.0, "codebook_sizes": [8], "inputs": name, "num_inputs": n}
        write_index_and_card(out, plan, [check_shard(out, 0, 1, [u.id for u, _ in encoded])], "test")
        return out

    train, test = folder("train", 40), folder("test", 10)
    cfg = make_cfg(train, train={"steps": 60, "lr": 1e-2})
    LMTrainer(cfg, tmp_path / "run", progress=False).fit()
    lm = SpeechLM.load(tmp_path / "run")
    rows = list(iter_rows(test))
    s = likelihood_summary([{"duration": r["duration"], **x} for r, x in zip(rows, lm.score([r["codes"] for r in rows]))])
    assert s["tokens_per_second"] == pytest.approx(25.0)
    assert 75.0 - 1.0 < s["bits_per_second"] < 75.0 + 3.0, s  # a model cannot beat the entropy rate (beyond chance)
    assert s["bits_per_token"] == pytest.approx(3.0, abs=0.12)
