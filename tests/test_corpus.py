"""Corpus tokenization: rows, readers (pyarrow, datasets), batching, workers, resume, errors, CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

import speechtok
from speechtok.audio import load_audio
from speechtok.cli import main as cli_main
from speechtok.corpus import Batching, JobError, JobOptions, run_job, tokens_from_row
from speechtok.data import read_manifest, shipped_clips, write_manifest
from speechtok.data.manifest import ManifestError, Utterance
from speechtok.tokenizers.base import Tokenizer


def make_corpus(root: Path, n_synthetic: int = 10, seed: int = 0) -> Path:
    """The shipped clips plus synthetic clips of varied length, rate and channel count, plus an
    unreadable and an empty file. Returns the manifest path."""
    rng = np.random.default_rng(seed)
    wav = root / "wav"
    wav.mkdir(parents=True)
    utts = list(shipped_clips())
    for i in range(n_synthetic):
        sr = (16000, 8000, 22050, 44100)[i % 4]
        n = int(sr * rng.uniform(0.2, 2.5))
        t = np.arange(n) / sr
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 400) * t) + 0.02 * rng.standard_normal(n)
        if i % 3 == 0:  # stereo
            x = np.stack([x, 0.5 * x], axis=1)
        path = wav / f"syn{i:02d}.wav"
        sf.write(path, x, sr)
        utts.append(Utterance(id=f"syn/{i:02d}", path=str(path), duration=n / sr, speaker=f"spk{i % 2}", text=f"tone {i}"))
    (wav / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    (wav / "empty.wav").write_bytes(b"")
    utts.append(Utterance(id="bad/corrupt", path=str(wav / "corrupt.wav")))
    utts.append(Utterance(id="bad/empty", path=str(wav / "empty.wav")))
    manifest = root / "corpus.jsonl"
    write_manifest(manifest, utts)
    return manifest


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def job(corpus: Path, out: Path, tokenizer="pcm16", **kw) -> dict:
    kw.setdefault("shard_size", 4)
    kw.setdefault("workers", 1)
    return run_job(JobOptions(tokenizer=tokenizer, data=str(corpus), out=str(out), progress=False, **kw), log=lambda s: None)


def read_all(out: Path):
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(p) for p in sorted((out / "data").glob("*.parquet"))])


GOOD = 4 + 10  # shipped clips + synthetic; 2 bad


def test_rows_match_encoding_each_file(corpus, tmp_path):
    summary = job(corpus, tmp_path / "out", tokenizer="mulaw")
    assert (summary["utterances"], summary["failed"], summary["shards"]) == (GOOD, 2, 4)
    table = read_all(tmp_path / "out")
    ids = table.column("id").to_pylist()
    assert sorted(ids) == sorted(u.id for u in read_manifest(corpus) if not u.id.startswith("bad/"))
    assert len(set(ids)) == len(ids)
    tok = speechtok.load("mulaw")
    by_id = {u.id: u for u in read_manifest(corpus)}
    for row in table.to_pylist():
        u = by_id[row["id"]]
        wav, sr = load_audio(u.path)
        expected = tok.encode(wav, sr)
        assert tokens_from_row(row) == expected, row["id"]  # codes and every header field
        assert np.asarray(row["codes"]).shape == (row["num_codebooks"], row["frames"])
        assert (row["text"], row["speaker"], row["language"], row["source"]) == (u.text, u.speaker, u.language, u.path)
        assert row["duration"] == pytest.approx(sf.info(u.path).duration)
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["totals"]["utterances"] == GOOD and index["totals"]["failed"] == 2
    assert index["totals"]["tokens"] == sum(r * f for r, f in zip(table.column("num_codebooks").to_pylist(), table.column("frames").to_pylist()))
    assert sum(s["rows"] for s in index["shards"]) == GOOD
    card = (tmp_path / "out" / "README.md").read_text()
    assert "mulaw" in card and f"{GOOD} of {GOOD + 2} inputs" in card and "hours" in card


def test_datasets_reads_the_shards(corpus, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out"
    job(corpus, out, tokenizer="mulaw")
    files = sorted(str(p) for p in (out / "data").glob("*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
    table = read_all(out)
    assert len(ds) == table.num_rows == GOOD
    assert ds.column_names == table.column_names
    for i in (0, GOOD - 1):
        row = ds[i]
        assert row["id"] == table.column("id")[i].as_py()
        assert np.array(row["codes"]).shape == (row["num_codebooks"], row["frames"])
        assert row["codes"] == table.column("codes")[i].as_py()


class TinyTorchTokenizer(Tokenizer):
    """A batched neural-style tokenizer: a strided conv over zero-padded batches, argmax per
    codebook. Frames only see samples inside the signal, so padding must not change them."""

    name = "tiny-torch-test"
    version = "1"
    sample_rate = 16000
    frame_rate = 100.0
    codebook_sizes = (16, 16)
    hop = 160

    def __init__(self):
        import torch

        torch.manual_seed(0)
        self.conv = torch.nn.Conv1d(1, 2 * 16, self.hop, stride=self.hop).double()
        self.batch_sizes: list[int] = []

    def _encode_batch(self, wavs):
        import torch

        self.batch_sizes.append(len(wavs))
        x = torch.zeros(len(wavs), 1, max(len(w) for w in wavs), dtype=torch.float64)
        for i, w in enumerate(wavs):
            x[i, 0, : len(w)] = torch.from_numpy(w.astype(np.float64))
        with torch.no_grad():
            y = self.conv(x)  # (batch, 2 * 16, frames)
        codes = y.view(len(wavs), 2, 16, -1).argmax(2).numpy()  # (batch, 2, frames)
        return [codes[i, :, : len(w) // self.hop] for i, w in enumerate(wavs)]

    def _encode(self, wav):
        return self._encode_batch([wav])[0]

    def _decode(self, codes, num_samples, tokens):
        return np.zeros(num_samples, np.float32)


@pytest.fixture(scope="module")
def tiny_torch():
    pytest.importorskip("torch")
    tok = TinyTorchTokenizer()
    speechtok.register(lambda name: tok if name == tok.name else None, lambda: [tok.name])
    return tok


def _clip_waves():
    return [load_audio(u.path) for u in shipped_clips()] + [
        (np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1, 16000) for n in (321, 4000, 16001)
    ]


@pytest.mark.parametrize("name", ["pcm16", "mulaw", "opus@6kbps", "codec2@1300", "tiny-torch-test"])
def test_encode_batch_equals_one_by_one(name, tiny_torch):
    try:
        tok = speechtok.load(name)
    except speechtok.SpeechtokError as e:  # a codec whose system library is missing here
        pytest.skip(str(e))
    waves = _clip_waves()
    batch = tok.encode_batch([w for w, _ in waves], [sr for _, sr in waves])
    assert [tok.encode(w, sr) for w, sr in waves] == batch


def test_batching_never_changes_rows(corpus, tmp_path, tiny_torch):
    tiny_torch.batch_sizes.clear()
    job(corpus, tmp_path / "batched", tokenizer=tiny_torch.name, batching=Batching(seconds=60.0))
    assert max(tiny_torch.batch_sizes) > 1  # the batched path really ran
    job(corpus, tmp_path / "single", tokenizer=tiny_torch.name, batching=Batching(size=1))
    job(corpus, tmp_path / "small", tokenizer=tiny_torch.name, batching=Batching(seconds=3.0))
    ref = read_all(tmp_path / "single")
    assert read_all(tmp_path / "batched").equals(ref)
    assert read_all(tmp_path / "small").equals(ref)


@pytest.mark.parametrize("tokenizer", ["pcm16", "opus@6kbps"])
def test_workers_and_encode_place_give_identical_shards(corpus, tmp_path, tokenizer):
    if tokenizer not in speechtok.available():
        pytest.skip(f"{tokenizer} is not part of this build")
    runs = {"w0": dict(workers=0), "w2-main": dict(workers=2, encode_in="main"), "w2-workers": dict(workers=2, encode_in="workers")}
    for name, kw in runs.items():
        job(corpus, tmp_path / name, tokenizer=tokenizer, **kw)
    ref = sorted((tmp_path / "w0" / "data").iterdir())
    assert len(ref) == 4
    for name in runs:
        files = sorted((tmp_path / name / "data").iterdir())
        assert [p.name for p in files] == [p.name for p in ref]
        assert [p.read_bytes() for p in files] == [p.read_bytes() for p in ref], name


def test_bad_inputs_are_reported_and_the_job_continues(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli_main(["tokenize", "-t", "mulaw", "--data", str(corpus), "--out", str(out), "--shard-size", "5", "--no-progress"])
    assert rc == 1
    said = capsys.readouterr().out
    assert f"{GOOD} of {GOOD + 2} utterances" in said and "2 failed" in said
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(e["id"] for e in errors) == ["bad/corrupt", "bad/empty"]
    reasons = {e["id"]: e["reason"] for e in errors}
    assert "empty.wav: empty file" in reasons["bad/empty"]
    assert "corrupt.wav: not a readable audio file" in reasons["bad/corrupt"]


def test_rerun_resume_and_refusal(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    job(corpus, out)
    ref = read_all(out)
    files = sorted((out / "data").iterdir())
    mtimes = [p.stat().st_mtime_ns for p in files]

    # A finished job rerun does nothing, and says so.
    lines = []
    run_job(JobOptions(tokenizer="pcm16", data=str(corpus), out=str(out), workers=1, progress=False), log=lines.append)
    assert lines[0].startswith("nothing to do: all 4 shards")
    assert [p.stat().st_mtime_ns for p in files] == mtimes

    # A lost shard and a leftover temporary file: only that shard is redone.
    files[1].unlink()
    (out / "data" / f".{files[1].name}.tmp999").write_bytes(b"half a shard")
    job(corpus, out)
    assert [p.stat().st_mtime_ns for i, p in enumerate(files) if i != 1] == [m for i, m in enumerate(mtimes) if i != 1]
    assert read_all(out).equals(ref)
    assert not list((out / "data").glob(".*tmp*"))

    # Another tokenizer, other inputs, or another shard size: refused, naming what differs.
    with pytest.raises(JobError, match="tokenizer: planned 'pcm16', now 'mulaw'"):
        job(corpus, out, tokenizer="mulaw")
    other = tmp_path / "other.jsonl"
    write_manifest(other, read_manifest(corpus)[:-1])
    with pytest.raises(JobError, match="num_inputs"):
        job(other, out)
    with pytest.raises(JobError, match="shard_size"):
        job(corpus, out, shard_size=5)
    rc = cli_main(["tokenize", "-t", "mulaw", "--data", str(corpus), "--out", str(out), "--no-progress"])
    assert rc == 2 and "planned for other inputs or another tokenizer" in capsys.readouterr().err


def test_duplicate_ids_are_refused(tmp_path):
    clip = shipped_clips()[0]
    write_manifest(tmp_path / "dup.jsonl", [clip, clip])
    with pytest.raises(ManifestError, match="occur more than once.*en/privacy-prompt"):
        job(tmp_path / "dup.jsonl", tmp_path / "out")


def test_folder_input_and_detokenize(tmp_path, capsys):
    folder = tmp_path / "clips"
    folder.mkdir()
    for u in shipped_clips():
        shutil.copy(u.path, folder / Path(u.path).name)
    out = tmp_path / "tok"
    assert cli_main(["tokenize", "-t", "pcm16", "--data", str(folder), "--out", str(out), "--no-progress"]) == 0
    ids = ["en_privacy-prompt", "it_vm-marked-urgent"]
    rc = cli_main(["detokenize", str(out), "--ids", *ids, "--out", str(tmp_path / "wavs")])
    assert rc == 0
    for uid in ids:
        back, sr = sf.read(tmp_path / "wavs" / f"{uid}.wav", dtype="int16")
        orig, sr0 = sf.read(folder / f"{uid}.wav", dtype="int16")
        assert sr == sr0 and np.array_equal(back, orig)  # pcm16 is lossless
    capsys.readouterr()
    # exit codes as encode/decode: 2 when the only id fails, 1 when one of several does
    assert cli_main(["detokenize", str(out), "--ids", "nope", "--out", str(tmp_path / "wavs")]) == 2
    assert "no row with id 'nope'" in capsys.readouterr().err
    assert cli_main(["detokenize", str(out), "--ids", "nope", ids[0], "--out", str(tmp_path / "wavs")]) == 1
    assert "1 skipped" in capsys.readouterr().err  # the wav already there is left as it is
    assert sorted(os.listdir(tmp_path / "wavs")) == sorted(f"{i}.wav" for i in ids)
