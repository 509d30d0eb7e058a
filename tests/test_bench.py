"""speechtok bench end to end: output files, resume after an interruption, error rows, speed."""

from __future__ import annotations

import json

import numpy as np
import pytest

import speechtok
from speechtok.cli import main
from speechtok.data import shipped_clips
from speechtok.data.manifest import Utterance, write_manifest
from speechtok.eval.report import build_report
from speechtok.eval.rows import read_rows
from speechtok.eval.runner import BenchConfig, run_bench

FAST = ["signal", "pesq_wb", "stoi"]  # the heavy model metrics have their own tests


@pytest.fixture(scope="module")
def two_clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    clips = [c for c in shipped_clips() if c.language in ("en", "it")]
    write_manifest(d / "two.jsonl", clips)
    return d / "two.jsonl"


def keys(rows):
    return {(r["tokenizer"], r["utt"], r["metric"]) for r in rows}


def test_bench_two_clips_two_codecs_writes_every_output(two_clips, tmp_path):
    out = tmp_path / "b"
    rc = main(["bench", "-t", "pcm16", "-t", "mulaw", "--data", str(two_clips), "--out", str(out),
               "--metrics", *FAST, "dnsmos", "--jobs", "2"])
    assert rc == 0
    for f in ("rows.jsonl", "summary.json", "summary.md", "report.html", "report_files/rd_kbps.png",
              "report_files/rd_tokens_per_s.png", "inputs.jsonl"):
        assert (out / f).stat().st_size > 0, f
    rows = read_rows(out / "rows.jsonl")
    assert set(rows[0]) == {"tokenizer", "tokenizer_version", "utt", "metric", "value", "evaluator",
                            "evaluator_version", "resampled", "error"}
    assert not [r for r in rows if r["error"]]
    by = {(r["tokenizer"], r["utt"], r["metric"]): r for r in rows}
    en = "en/privacy-prompt"
    assert by[("pcm16", en, "si_sdr")]["value"] > 90  # 16-bit PCM is near transparent
    assert by[("pcm16", en, "pesq_wb")]["resampled"] is None
    assert by[("mulaw", en, "pesq_wb")]["resampled"] == "8000->16000 soxr"
    assert by[("mulaw", en, "kbps")]["value"] == pytest.approx(64.0)
    assert ("original", en, "dnsmos_ovrl") in by  # no-reference metrics also score the input
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tokenizers"]["mulaw"]["metrics"]["stoi"]["n"] == 2
    html = (out / "report.html").read_text()
    assert "<audio" in html and "rd_kbps.png" in html
    for src in [s.split('"')[0] for s in html.split('src="')[1:]]:
        assert (out / src).exists(), src  # every player's file is beside the html


class Counting:
    """A tokenizer wrapper that counts encodes, to see what a resumed run redoes."""

    def __init__(self, tok, counter):
        self._tok, self._counter = tok, counter

    def __getattr__(self, k):
        return getattr(self._tok, k)

    def encode(self, *a, **k):
        self._counter.append(1)
        return self._tok.encode(*a, **k)


def test_interrupted_run_resumes_without_redoing_work(two_clips, tmp_path):
    from speechtok.data.manifest import list_inputs

    utts = list_inputs(two_clips)
    full, part = tmp_path / "full", tmp_path / "part"
    calls: list = []
    cfg = dict(tokenizers=["pcm16", "mulaw"], metrics=FAST, jobs=1, report=False)
    run_bench(BenchConfig(out=full, **cfg), utts)
    complete = read_rows(full / "rows.jsonl")

    # "interrupt": a run that got through the first tokenizer only, killed while writing a row
    run_bench(BenchConfig(out=part, **cfg), utts)
    text = (part / "rows.jsonl").read_text().splitlines(keepends=True)
    kept = [l for l in text if json.loads(l)["tokenizer"] == "pcm16"][:-3]
    (part / "rows.jsonl").write_text("".join(kept) + text[-1][:25])  # torn last line
    for p in (part / "cache").glob("mulaw*/*"):
        p.unlink()
    cached = {p: p.stat().st_mtime_ns for p in (part / "cache").glob("pcm16*/*")}

    run_bench(BenchConfig(out=part, **cfg), utts, load=lambda n: Counting(speechtok.load(n), calls))
    rows = read_rows(part / "rows.jsonl")
    assert keys(rows) == keys(complete)
    assert {p: p.stat().st_mtime_ns for p in cached} == cached  # pcm16 audio reused, not rewritten
    assert len(calls) == 3  # mulaw: its warm-up + 2 clips; pcm16: none
    # the same values as the uninterrupted run (metrics are deterministic; timings are not)
    want = {(r["tokenizer"], r["utt"], r["metric"]): r["value"] for r in complete if "rtf" not in r["metric"]}
    got = {(r["tokenizer"], r["utt"], r["metric"]): r["value"] for r in rows if "rtf" not in r["metric"]}
    assert got == pytest.approx(want)


def test_a_failing_metric_writes_an_error_row_and_is_counted(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "silence.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "tone.wav", 0.3 * np.sin(np.arange(16000) * 0.1).astype(np.float32), 16000)
    utts = [Utterance("silence", str(tmp_path / "silence.wav")), Utterance("tone", str(tmp_path / "tone.wav"))]
    out = tmp_path / "b"
    run_bench(BenchConfig(tokenizers=["pcm16"], out=out, metrics=["si_sdr"], jobs=1), utts)
    rows = {(r["utt"], r["metric"]): r for r in read_rows(out / "rows.jsonl")}
    bad = rows[("silence", "si_sdr")]
    assert bad["value"] is None and "silent reference" in bad["error"]  # never a substitute value
    assert rows[("tone", "si_sdr")]["error"] is None
    s = json.loads((out / "summary.json").read_text())["tokenizers"]["pcm16"]["metrics"]["si_sdr"]
    assert s["n"] == 1 and s["n_failed"] == 1
    assert "1 failed" in (out / "summary.md").read_text()
    build_report(out)  # rebuilding from rows alone gives the same summary
    assert json.loads((out / "summary.json").read_text())["tokenizers"]["pcm16"]["metrics"]["si_sdr"] == s


def test_unreadable_input_becomes_error_rows(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"not audio at all")
    out = tmp_path / "b"
    run_bench(BenchConfig(tokenizers=["mulaw"], out=out, metrics=["si_sdr"], jobs=1, report=False),
              [Utterance("bad", str(tmp_path / "bad.wav"))])
    rows = read_rows(out / "rows.jsonl")
    assert rows and all(r["error"] and "bad.wav" in r["error"] for r in rows)


class EncodeOnly(speechtok.Tokenizer):
    """Like S3Tokenizer: codes, no decoder."""

    name, version, sample_rate, frame_rate, codebook_sizes, can_decode = "enc-only", "1", 16000, 50.0, (16,), False

    def _encode(self, wav):
        frames = wav[: len(wav) // 320 * 320].reshape(-1, 320)
        return np.clip((np.abs(frames).mean(1) * 64).astype(np.int64), 0, 15)[None]

    def _decode(self, codes, num_samples, tokens):
        raise NotImplementedError


def test_encode_only_tokenizer_keeps_token_stats_and_skips_reconstruction(two_clips, tmp_path):
    from speechtok.data.manifest import list_inputs

    out = tmp_path / "b"
    run_bench(BenchConfig(tokenizers=["enc-only"], out=out, metrics=["si_sdr"], jobs=1), list_inputs(two_clips),
              load=lambda n: EncodeOnly())
    metrics = {r["metric"] for r in read_rows(out / "rows.jsonl") if r["tokenizer"] == "enc-only"}
    assert {"kbps", "tokens_per_s", "entropy_kbps", "encode_rtf"} <= metrics
    assert not metrics & {"si_sdr", "decode_rtf"}
    assert (out / "report.html").exists()


def test_speed_only(tmp_path, capsys):
    rc = main(["bench", "--speed-only", "-t", "pcm16", "-t", "mulaw", "--seconds", "2", "--repeats", "1",
               "--threads", "1", "--out", str(tmp_path)])
    assert rc == 0
    res = json.loads((tmp_path / "speed.json").read_text())
    assert [r["tokenizer"] for r in res] == ["pcm16", "mulaw"]
    assert all(r["threads"] == 1 and r["encode_rtf"] > 0 and r["audio_seconds"] == 2.0 for r in res)
    assert "encode RTF" in capsys.readouterr().out


def test_bad_usage_is_reported(tmp_path, capsys):
    assert main(["bench", "-t", "pcm16", "--out", str(tmp_path), "--metrics", "nope"]) == 2
    assert "unknown metric" in capsys.readouterr().err


def test_report_states_unit_direction_n_command_and_versions(tmp_path):
    """A reader who did not run the bench learns from summary.md what every number is."""
    from speechtok.eval.rows import make_row

    ev = dict(evaluator="x", evaluator_version="1")
    rows = []
    for utt, lang_ok, sdr in (("en/a", True, 3.0), ("it/b", False, 5.0)):
        rows += [make_row("opus@6kbps", "libopus 1.3.1", utt, "si_sdr", sdr, **ev),
                 make_row("opus@6kbps", "libopus 1.3.1", utt, "f0_rmse", 12.0, **ev),
                 make_row("opus@6kbps", "libopus 1.3.1", utt, "encode_rtf", 0.01, **ev)]
        if lang_ok:  # pocketsphinx scores English only
            rows.append(make_row("opus@6kbps", "libopus 1.3.1", utt, "wer", 0.25, evaluator="pocketsphinx",
                                 evaluator_version="5.0"))
    rows.append(make_row("opus@6kbps", "libopus 1.3.1", "*", "entropy_kbps", 5.1, **ev))
    out = tmp_path / "b"
    out.mkdir()
    (out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "run.json").write_text(json.dumps({"command": "speechtok bench -t opus@6kbps", "data": "test.jsonl"}))
    build_report(out)
    md = (out / "summary.md").read_text()
    assert "| command | `speechtok bench -t opus@6kbps` |" in md
    assert "| data | `test.jsonl`, 2 utterances |" in md
    assert "| tokenizer `opus@6kbps` | version libopus 1.3.1 |" in md
    assert "only English utterances with a transcript (pocketsphinx is English-only): n = 1 of 2" in md
    heads = "\n".join(line for line in md.splitlines() if line.startswith("| tokenizer |"))
    assert "| si_sdr (dB) ↑ |" in heads and "| f0_rmse (Hz) ↓ |" in heads and "| wer (fraction) ↓ |" in heads
    assert "| opus@6kbps | 4 [3, 5] n=2 |" in md and "| opus@6kbps | 12 [12, 12] n=2 |" in md  # n per mean
    assert "| opus@6kbps | 0.25 n=1 |" in md
    assert "5.1 (pooled)" in md and "encode_rtf (s/s) ↓" in md
    glossary = md[md.index("## metrics"):]
    for metric in ("si_sdr", "f0_rmse", "wer", "encode_rtf", "entropy_kbps"):
        assert f"| {metric} |" in glossary, metric
    html = (out / "report.html").read_text()
    assert "speechtok bench -t opus@6kbps" in html and "si_sdr (dB) ↑" in html


class SwappableDecoder(speechtok.Tokenizer):
    """Codes fixed by ``version``; the decoder (its gain) replaceable, like a retrained unit decoder."""

    name, version, sample_rate, frame_rate, codebook_sizes = "swap-dec", "1", 16000, 16000.0, (256,)  # 8-bit PCM

    def __init__(self, decoder_id: str, gain: float):
        self.decoder_id, self.gain = decoder_id, gain

    def _encode(self, wav):
        return np.clip(np.round(wav * 127) + 128, 0, 255).astype(np.int64)[None]

    def _decode(self, codes, num_samples, tokens):
        return ((codes[0].astype(np.float32) - 128) / 127 * self.gain)[:num_samples]


def test_a_replaced_decoder_is_not_scored_from_the_old_decoders_cache(two_clips, tmp_path):
    from speechtok.data.manifest import list_inputs
    from speechtok.errors import SpeechtokError

    out, utts = tmp_path / "b", list_inputs(two_clips)
    old = SwappableDecoder("aaa", 1.0)
    assert old.bench_version == "1+dec-aaa" and EncodeOnly().bench_version == "1"
    run_bench(BenchConfig(tokenizers=["swap-dec"], out=out, metrics=["si_sdr"], jobs=1, report=False), utts,
              load=lambda n: old)
    assert sorted(p.name for p in (out / "cache").iterdir()) == ["swap-dec@1+dec-aaa"], list((out / "cache").iterdir())
    versions = {r["tokenizer_version"] for r in read_rows(out / "rows.jsonl") if r["tokenizer"] == "swap-dec"}
    assert versions == {"1+dec-aaa"}
    with pytest.raises(SpeechtokError, match=r"1\+dec-aaa.*1\+dec-bbb.*new --out folder"):
        run_bench(BenchConfig(tokenizers=["swap-dec"], out=out, metrics=["si_sdr"], jobs=1, report=False), utts,
                  load=lambda n: SwappableDecoder("bbb", 0.5))
    fresh = tmp_path / "c"  # in a new folder the new decoder is decoded and scored: half the gain
    run_bench(BenchConfig(tokenizers=["swap-dec"], out=fresh, metrics=["si_sdr"], jobs=1, report=False), utts,
              load=lambda n: SwappableDecoder("bbb", 0.5))
    sdr = lambda d: {r["utt"]: r["value"] for r in read_rows(d / "rows.jsonl") if r["metric"] == "si_sdr" and r["tokenizer"] == "swap-dec"}
    assert sdr(fresh) and all(abs(sdr(fresh)[u] - sdr(out)[u]) < 0.5 for u in sdr(out))  # si_sdr is gain-free
    assert not (fresh / "cache" / "swap-dec@1+dec-aaa").exists() and (fresh / "cache" / "swap-dec@1+dec-bbb").is_dir()
