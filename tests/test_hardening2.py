"""The bad-input catalogue, second pass (issue 20): the newer commands (lm, serve, list) and the
faults nobody had tried (a full disk, a package missing, a slow client, damaged token files,
absurd option values). Like the first pass (test_hardening.py), each command-line case asserts
the exit code, one stderr line naming the file or option, no traceback, and that no file that
existed before changed (hash before/after).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_hardening import CLIP, REPO, UNWRITABLE, run_cli, snapshot

import speechtok
from speechtok import Tokens
from speechtok.cli import main
from speechtok.corpus import JobOptions, run_job
from speechtok.data.manifest import write_manifest
from speechtok.errors import TokensFileError
from speechtok.tokens import MAGIC

TINY_LM = ["--set", "model.hidden=32", "--set", "model.layers=1", "--set", "model.heads=2", "--set", "model.context=32",
           "--set", "train.batch_size=2", "--set", "train.accelerator=cpu", "--set", "data.codebooks=2", "--no-progress"]


def raw_stok(header: bytes, codes: bytes = b"") -> bytes:
    """A token file with any header bytes (and a valid checksum)."""
    body = header + codes
    return MAGIC + struct.pack("<HI", 2, len(header)) + body + struct.pack("<I", zlib.crc32(body))


@pytest.fixture(scope="module")
def lm_template(tmp_path_factory):
    """A tokenized corpus (codec2@3200, 2 clips), a 2-step LM run on it, the user's own files
    beside them, and damaged token files and shards."""
    w = tmp_path_factory.mktemp("lmworld")
    (w / "clips").mkdir()
    shutil.copy(CLIP, w / "clips" / "a.wav")
    shutil.copy(CLIP, w / "clips" / "b.wav")
    write_manifest(w / "clips.jsonl", [{"id": "a", "path": "clips/a.wav"}, {"id": "b", "path": "clips/b.wav"}])
    quiet = dict(workers=0, progress=False)
    run_job(JobOptions(tokenizer="codec2@3200", data=str(w / "clips.jsonl"), out=str(w / "tok"), **quiet), log=lambda *a: None)
    run_job(JobOptions(tokenizer="pcm16", data=str(w / "clips.jsonl"), out=str(w / "tokp"), shard_size=1, **quiet),
            log=lambda *a: None)
    for shard in (w / "tokp" / "data").iterdir():  # cut every shard short
        shard.write_bytes(shard.read_bytes()[:300])
    assert main(["lm", "train", "--train", str(w / "tok"), "--out", str(w / "lmrun"), "--steps", "2", *TINY_LM]) == 0
    (w / "u").mkdir()
    (w / "u" / "config.yaml").write_text("mine\n")
    (w / "u" / "model.safetensors").write_text("w\n")
    (w / "r").mkdir()
    (w / "r" / "results.md").write_text("# my results\n")
    (w / "rj").mkdir()
    (w / "rj" / "results.jsonl").write_text('{"mine": 1}\n')
    (w / "afile").write_text("a file, not a folder\n")
    (w / "existing.wav").write_text("the user's own file\n")
    (w / "nested.stok").write_bytes(raw_stok(b"[" * 100000 + b"]" * 100000))
    wav, sr = sf.read(CLIP, dtype="float32")
    t = speechtok.load("opus@6kbps").encode(wav, sr)
    t.num_samples = 16000 * 3600 * 10  # 10 h claimed for 2 s of codes
    t.save(w / "huge.stok")
    sf.write(w / "a48.wav", (0.1 * np.sin(np.arange(48000) / 7)).astype(np.float32), 48000)
    return w


@pytest.fixture
def lmw(lm_template, tmp_path, monkeypatch, capsys):
    w = tmp_path / "w"
    shutil.copytree(lm_template, w)
    monkeypatch.chdir(w)
    capsys.readouterr()
    return w


_SAMPLE = ["lm", "sample", "lmrun", "--seconds", "0.2"]
_BENCH = ["lm", "bench", "-t", "pcm16", "--train", "clips.jsonl", "--test", "clips.jsonl", "--work", "wk", "--no-progress"]
CLI_CASES = {
    # user files
    "lm train into a user's folder": (["lm", "train", "--train", "tok", "--out", "u", "--steps", "2", *TINY_LM], 2,
                                      "holds files not written by `speechtok lm train` (config.yaml, model.safetensors)"),
    "lm train into a tokenize folder": (["lm", "train", "--train", "tok", "--out", "tok", "--steps", "2", *TINY_LM], 2,
                                        "holds the output of `speechtok tokenize`"),
    "lm train --out unwritable": (["lm", "train", "--train", "tok", "--out", UNWRITABLE, "--steps", "2"], 2,
                                  f"{UNWRITABLE}: cannot create folder"),
    "lm train --out a file": (["lm", "train", "--train", "tok", "--out", "afile", "--steps", "2"], 2,
                              "afile: exists and is not a folder"),
    "lm sample over an existing file": (_SAMPLE + ["--out", "existing.wav"], 2, "existing.wav: exists; pass --overwrite"),
    "lm score over an existing file": (["lm", "score", "lmrun", "--data", "tok", "--out", "existing.wav"], 2,
                                       "existing.wav: exists; pass --overwrite"),
    "lm sample --out a folder": (_SAMPLE + ["--out", "u"], 2, "u: is a folder"),
    "lm sample into an unwritable folder": (_SAMPLE + ["--out", f"{UNWRITABLE}/s.wav"], 2, f"{UNWRITABLE}: cannot create folder"),
    "lm bench into a user's folder": (_BENCH + ["--out", "r"], 2, "holds files not written by `speechtok lm bench` (results.md)"),
    "lm bench with a foreign results.jsonl": (_BENCH + ["--out", "rj"], 2, "line 1 is not a result of `speechtok lm bench`"),
    "lm bench a missing --config": (_BENCH + ["--out", "b", "--config", "nope.yaml"], 2, "nope.yaml: no such config file"),
    # options out of range, refused at parse time
    "lm train --steps 0": (["lm", "train", "--train", "tok", "--out", "x", "--steps", "0"], 2, "argument --steps: must be at least 1, got 0"),
    "lm sample --top-k -3": (_SAMPLE + ["--top-k", "-3", "--out", "s.wav"], 2, "argument --top-k: must be at least 0, got -3"),
    "lm sample --seconds 1e9": (["lm", "sample", "lmrun", "--seconds", "1e9", "--out", "s.wav"], 2, "argument --seconds: must be at most 600"),
    "lm sample --seconds 0": (["lm", "sample", "lmrun", "--seconds", "0", "--out", "s.wav"], 2, "argument --seconds: must be more than 0"),
    "lm sample --seconds -1": (["lm", "sample", "lmrun", "--seconds", "-1", "--out", "s.wav"], 2, "argument --seconds: must be more than 0"),
    "lm sample --seconds nan": (["lm", "sample", "lmrun", "--seconds", "nan", "--out", "s.wav"], 2, "argument --seconds: expected a finite number"),
    "lm sample --temperature -1": (_SAMPLE + ["--temperature", "-1", "--out", "s.wav"], 2, "argument --temperature: must be at least 0"),
    "lm mtp --heads 0": (["lm", "mtp", "lmrun", "--heads", "0"], 2, "argument --heads: must be at least 1"),
    "tokenize --batch-seconds 0": (["tokenize", "-t", "pcm16", "--data", "clips", "--out", "t", "--batch-seconds", "0"], 2,
                                   "argument --batch-seconds: must be more than 0"),
    "serve --port 99999": (["serve", "-t", "pcm16", "--port", "99999"], 2, "argument --port: must be at most 65535"),
    "serve --workers 0": (["serve", "-t", "pcm16", "--workers", "0"], 2, "argument --workers: must be at least 1"),
    "serve an unknown tokenizer": (["serve", "-t", "nope", "--port", "0"], 2, "unknown tokenizer 'nope'"),
    "serve on a host that is not this machine": (["serve", "-t", "pcm16", "--host", "no-such-host.invalid", "--port", "0"], 2,
                                                 "--host no-such-host.invalid: not an address"),
    # damaged token files and shards
    "info on a deeply nested header": (["info", "nested.stok"], 2, "nested.stok: corrupt token-file header (JSON nested too deeply)"),
    "decode a deeply nested header": (["decode", "nested.stok", "-o", "n.wav"], 2, "JSON nested too deeply"),
    "decode a header claiming 10 h": (["decode", "huge.stok", "-o", "h.wav"], 2, "huge.stok: inconsistent header: 111 frames"),
    "detokenize truncated shards": (["detokenize", "tokp", "--ids", "a", "--out", "dt"], 2, "damaged shard, not readable as Parquet"),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_catalogue(case, lmw, capsys):
    argv, code, text = CLI_CASES[case]
    rc, _, err = run_cli(argv, capsys, lmw)
    assert rc == code, err
    lines = [line for line in err.splitlines() if text in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("speechtok "), lines[0]
    assert not [line for line in err.splitlines() if line.startswith("usage:")], err  # one line, not the usage text


# ---- lm: what is written, and what is said ---------------------------------------------------------
def test_lm_sample_writes_a_new_file_and_warns_nothing(lmw, capsys):
    rc, out, err = run_cli(_SAMPLE + ["--out", "s.wav"], capsys, lmw)
    assert rc == 0 and sf.info(lmw / "s.wav").duration == pytest.approx(0.2, abs=0.03)
    assert "warning" not in err  # codes from the LM's own tokenizer carry its model id
    rc, _, err = run_cli(_SAMPLE + ["--out", "s.wav", "--overwrite", "--seed", "1"], capsys, lmw, own=lmw / "s.wav")
    assert rc == 0


def test_lm_bench_finds_its_default_config_from_any_folder(tmp_path, monkeypatch):
    from speechtok.cli.lm_bench_cmd import _bench_config

    monkeypatch.chdir(tmp_path)
    assert _bench_config(None) == REPO / "configs" / "lm-tiny.yaml"


# ---- list ----------------------------------------------------------------------------------------------
def test_list_answers_at_once_without_loading_a_model():
    code = ("import sys, time; from speechtok.cli import main; t = time.perf_counter(); main(['list', '--json']); "
            "print('SECONDS', time.perf_counter() - t, 'torch' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    head, _, tail = p.stdout.rpartition("SECONDS")
    rows = {r["name"]: r for r in json.loads(head)}
    seconds, torch_loaded = tail.split()
    assert torch_loaded == "False" and float(seconds) < 1.0, tail
    assert rows["speechtok-base@1.45kbps"]["codebook_sizes"] == [128, 2048, 2048]
    assert rows["speechtok-25hz@0.725kbps"]["kbps"] == pytest.approx(0.725)
    assert rows["mfcc-kmeans@50hz:k100"]["codebook_sizes"] == [100]
    # the facts read from the config are the loaded model's
    tok = speechtok.load("speechtok-base@1.45kbps")
    assert tok.sample_rate == rows["speechtok-base@1.45kbps"]["sample_rate"] and tok.frame_rate == 50.0
    assert rows["opus@6kbps-vbr"]["kbps"] == pytest.approx(speechtok.load("opus@6kbps-vbr").bitrate / 1000)


def test_list_to_a_full_device_is_one_line():
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "speechtok", "list"], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=120, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().splitlines() == ["speechtok list: error: standard output: no space left on device "
                                             "(free some space and rerun the same command: finished work is kept)"]


# ---- a package missing (its import blocked in a fresh process) --------------------------------------------
MISSING = {
    "pyarrow": (["tokenize", "-t", "pcm16", "--data", "clips", "--out", "t", "--workers", "0"], "pip install pyarrow"),
    "transformers": (["lm", "train", "--train", "tok", "--out", "x", "--steps", "2"], "pip install 'speechtok[lm]'"),
    "pyworld": (["encode", "clips/a.wav", "-o", "a.stok", "-t", "speechtok-25hz"], "pip install pyworld"),
    "soxr": (["encode", "a48.wav", "-o", "a48.stok", "-t", "pcm16"], "pip install soxr"),
    "lightning": (["train", str(REPO / "configs" / "base-50hz.yaml"), "--set", "data.train=clips.jsonl", "--out", "x"],
                  "pip install lightning"),
}


@pytest.mark.parametrize("package", list(MISSING))
def test_a_missing_package_is_one_line_with_the_install_command(package, lmw):
    argv, hint = MISSING[package]
    before = snapshot(lmw)
    code = f"import sys; sys.modules[{package!r}] = None; from speechtok.cli import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300,
                       cwd=lmw, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    lines = [line for line in p.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and f"the package {package} is not installed: {hint}" in lines[0], p.stderr
    assert {f: h for f, h in snapshot(lmw).items() if f in before} == before


# ---- a full disk -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def small_disk(path: Path, size: str):
    """A tmpfs of ``size`` at ``path`` (root only); yields a function that enlarges it."""
    path.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if p.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({p.stderr.decode().strip()}); test_injected_enospc covers the mechanism")
    try:
        yield lambda new: subprocess.run(["mount", "-o", f"remount,size={new}", str(path)], check=True)
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def no_temporary_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if ".tmp" in p.name]


def shard_tables(folder: Path) -> dict:
    import pyarrow.parquet as pq

    return {p.name: pq.read_table(p).drop_columns([]) for p in sorted((folder / "data").glob("*.parquet"))}


@pytest.mark.parametrize("shard_size", [None, 1])
def test_tokenize_on_a_full_disk_then_rerun_gives_the_uninterrupted_output(shard_size, lmw, capsys):
    args = ["tokenize", "-t", "pcm16", "--data", "clips.jsonl", "--workers", "0", "--no-progress"]
    args += ["--shard-size", str(shard_size)] if shard_size else []
    assert main(args + ["--out", "ref"]) == 0
    with small_disk(lmw / "full", "64k") as grow:  # a 2.2 s clip in pcm16 is a 70 kB shard
        rc, _, err = run_cli(args + ["--out", "full/t"], capsys, lmw)
        assert rc == 2
        lines = [line for line in err.splitlines() if "no space left on device" in line]
        assert len(lines) == 1 and lines[0].startswith("speechtok tokenize: error: full/t/data/train-"), err
        assert no_temporary_files(lmw / "full")
        partial = shard_tables(lmw / "full" / "t")  # every shard under its final name is whole
        grow("8m")
        rc, _, err = run_cli(args + ["--out", "full/t"], capsys, lmw, own=lmw / "full" / "t")
        assert rc == 0, err
        done, ref = shard_tables(lmw / "full" / "t"), shard_tables(lmw / "ref")
        assert list(done) == list(ref) and all(done[k].equals(ref[k]) for k in ref)
        assert all(partial[k].equals(ref[k]) for k in partial)


def fresh_process(argv, cwd) -> int:
    """The CLI in a new process (libcodec2 keeps a random state for its decoder across calls in
    one process, so two decodes of the same codes compare equal only from fresh processes)."""
    return subprocess.run([sys.executable, "-m", "speechtok", *argv], cwd=cwd, capture_output=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(REPO))).returncode


def test_encode_and_lm_sample_on_a_full_disk(lmw, capsys):
    assert main(["encode", "clips", "-o", "ref", "-t", "pcm16"]) == 0
    assert fresh_process(_SAMPLE + ["--seconds", "2", "--temperature", "0", "--out", "ref.wav"], lmw) == 0
    with small_disk(lmw / "full", "80k") as grow:  # one 2.2 s pcm16 token file is 70 kB
        rc, _, err = run_cli(["encode", "clips", "-o", "full/e", "-t", "pcm16"], capsys, lmw)
        assert rc == 2 and "Traceback" not in err
        lines = [line for line in err.splitlines() if "error" in line]
        assert len(lines) == 1 and "full/e/b.stok: no space left on device" in lines[0], err
        rc, _, err = run_cli(_SAMPLE + ["--seconds", "2", "--out", "full/s.wav"], capsys, lmw)
        assert rc == 2 and "full/s.wav: no space left on device" in err and not (lmw / "full" / "s.wav").exists()
        assert no_temporary_files(lmw / "full")
        grow("8m")
        assert main(["encode", "clips", "-o", "full/e", "-t", "pcm16"]) == 0
        assert fresh_process(_SAMPLE + ["--seconds", "2", "--temperature", "0", "--out", "full/s.wav"], lmw) == 0
        for name in ("a.stok", "b.stok"):
            assert (lmw / "full" / "e" / name).read_bytes() == (lmw / "ref" / name).read_bytes()
        # the rerun writes the whole file; its samples equal the reference run's except where a
        # near-tie of the greedy argmax went the other way (float rounding under CPU load)
        done, ref = sf.read(lmw / "full" / "s.wav")[0], sf.read(lmw / "ref.wav")[0]
        assert len(done) == len(ref) and np.mean(done == ref) > 0.5


def test_lm_train_on_a_full_disk_then_rerun_gives_the_uninterrupted_weights(lmw, capsys):
    from safetensors.numpy import load_file

    argv = ["lm", "train", "--train", "tok", "--steps", "3", *TINY_LM]
    assert main(argv + ["--out", "straight"]) == 0
    with small_disk(lmw / "full", "64k") as grow:  # the checkpoint is about 1.7 MB
        rc, _, err = run_cli(argv + ["--out", "full/run"], capsys, lmw)
        assert rc == 2 and [line for line in err.splitlines() if "error" in line] == [
            "speechtok lm train: error: full/run/checkpoints/last.ckpt: no space left on device "
            "(free some space and rerun the same command: finished work is kept)"], err
        assert no_temporary_files(lmw / "full") and not (lmw / "full" / "run" / "model.safetensors").exists()
        grow("8m")
        assert main(argv + ["--out", "full/run"]) == 0
        a, b = load_file(lmw / "straight" / "model.safetensors"), load_file(lmw / "full" / "run" / "model.safetensors")
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_injected_enospc_stops_encode_with_one_line_and_a_rerun_completes(lmw, capsys, monkeypatch):
    """The same mechanism without a tmpfs: the second write fails as a full disk does."""
    real = Path.write_bytes
    calls = {"n": 0}

    def full_on_second(self, data):
        calls["n"] += 1
        if calls["n"] == 2:
            real(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_on_second)
    rc, _, err = run_cli(["encode", "clips", "-o", "e", "-t", "pcm16"], capsys, lmw)
    assert rc == 2 and [line for line in err.splitlines() if "error" in line] == [
        "speechtok encode: error: e/b.stok: no space left on device (free some space and rerun the same command: "
        "finished work is kept)"]
    assert not (lmw / "e" / "b.stok").exists() and no_temporary_files(lmw / "e")
    monkeypatch.setattr(Path, "write_bytes", real)
    assert main(["encode", "clips", "-o", "e", "-t", "pcm16"]) == 0
    assert Tokens.load(lmw / "e" / "b.stok") == speechtok.load("pcm16").encode(*sf.read(CLIP, dtype="float32"))


# ---- token files: header fields against each other, long files in bounded memory -----------------------------
def test_header_fields_are_checked_against_each_other_before_decoding():
    wav, sr = sf.read(CLIP, dtype="float32")
    tok = speechtok.load("opus@6kbps")
    t = tok.encode(wav, sr)
    for change, message in [({"num_samples": 16000 * 3600}, "inconsistent header"),
                            ({"frame_rate": 25.0}, "frame rate 25 Hz does not match"),
                            ({"codebook_sizes": (512,) * 15}, "codebook sizes")]:
        bad = Tokens(**{**{k: getattr(t, k) for k in ("codes", "tokenizer", "tokenizer_version", "frame_rate",
                                                        "codebook_sizes", "num_samples", "sample_rate")}, **change})
        with pytest.raises(TokensFileError, match=message):
            tok.decode(bad)
    empty = Tokens(t.codes[:, :0], t.tokenizer, t.tokenizer_version, 50.0, t.codebook_sizes, 160, 16000)
    assert tok.decode(empty)[0].shape == (160,)  # no frames: silence of the length claimed (a few frames at most)
    with pytest.raises(TokensFileError, match="sample_rate .* above"):
        Tokens(t.codes, t.tokenizer, "", 50.0, t.codebook_sizes, t.num_samples, 10**9)


@pytest.mark.parametrize("name", ["opus@6kbps", "speechtok-fast@1.45kbps"])
def test_long_files_decode_in_chunks_equal_to_whole(name, monkeypatch):
    import speechtok.tokenizers.base as base

    tok = speechtok.load(name)
    wav, sr = sf.read(CLIP, dtype="float32")
    tokens = tok.encode(wav, sr)
    whole, _ = tok.decode(tokens)
    calls = []
    monkeypatch.setattr(base, "DECODE_CHUNK_SECONDS", 0.5)  # the 2.2 s clip counts as long
    monkeypatch.setattr(type(tok), "_decode", lambda *a: calls.append(1))  # never the whole-file path
    chunked, _ = tok.decode(tokens)
    assert not calls and len(chunked) == len(whole)
    assert np.max(np.abs(chunked - whole)) < 5e-4


# ---- the service: start-up, damaged input over a real connection, slow clients ------------------------------
def test_serve_on_a_port_in_use_is_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "-t", "pcm16", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"speechtok serve: error: 127.0.0.1:{port}: port already in use (another server?); choose another --port"]


@pytest.fixture(scope="module")
def live_server():
    """A real uvicorn server (h11, our header deadline of 0.5 s) in a thread."""
    pytest.importorskip("uvicorn")
    import uvicorn

    from speechtok.serve import Limits, create_app
    from speechtok.serve.protocol import header_deadline_protocol

    limits = Limits(header_timeout_s=0.5, workers=1, queue=2)
    config = uvicorn.Config(create_app(["opus@6kbps"], limits), host="127.0.0.1", port=0, log_level="critical",
                            http=header_deadline_protocol(limits.header_timeout_s), limit_concurrency=8)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(10)


def test_a_damaged_token_file_is_a_4xx_and_the_connection_lives_on(live_server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=10)
    for body in (raw_stok(b"[" * 100000 + b"]" * 100000), raw_stok(b'{"dtype": "uint8", "shape": [15, 0]}'), b"\0" * 64):
        conn.request("POST", "/v1/decode", body=body, headers={"Content-Type": "application/x-speechtok"})
        r = conn.getresponse()
        assert r.status == 422 and "\n" not in json.loads(r.read())["error"]
    conn.request("GET", "/healthz")  # the same connection: kept alive, not reset
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["counts"]["errors"] == 0
    conn.close()


def test_slow_clients_are_dropped_and_cannot_hold_the_server(live_server):
    """Slowloris, bounded: 12 connections (more than limit_concurrency) trickle their headers;
    each is closed once the header deadline passes, and a real client is then served."""
    slow = []
    for _ in range(12):
        s = socket.create_connection(("127.0.0.1", live_server), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.append(s)
    time.sleep(0.3)
    for s in slow:
        with contextlib.suppress(OSError):
            s.sendall(b"X-Slow: 1\r\n")  # still trickling
    t0 = time.time()
    for s in slow:
        s.settimeout(5)
        try:
            assert s.recv(100) == b""  # closed by the server
        except ConnectionResetError:
            pass
        s.close()
    assert time.time() - t0 < 5
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=10)
    conn.request("GET", "/healthz")
    assert conn.getresponse().status == 200
    conn.close()


# ---- killed and resumed --------------------------------------------------------------------------------
def test_lm_train_killed_then_resumed_gives_the_uninterrupted_weights(lmw):
    """SIGKILL in the middle of `lm train` (after its first checkpoint), then the same command with
    --resume: the weights are bit-identical to an uninterrupted run's."""
    import signal

    from safetensors.numpy import load_file

    argv = ["lm", "train", "--train", "tok", "--steps", "12", "--set", "train.checkpoint_every=1", *TINY_LM]
    assert main(argv + ["--out", "straight"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "speechtok", *argv, "--out", "killed"], cwd=lmw,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(REPO)))
    ckpt = lmw / "killed" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL and ckpt.exists()  # killed mid-run, after a checkpoint
    assert fresh_process(argv + ["--out", "killed", "--resume"], lmw) == 0
    a, b = load_file(lmw / "straight" / "model.safetensors"), load_file(lmw / "killed" / "model.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
