"""Exactly once under SIGKILL: kill a real `speechtok tokenize` (and its reader processes) at
random moments, rerun the same command until it finishes, then check every input is in exactly
one row or one error line, every shard is valid, and the rows equal an uninterrupted run's."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from speechtok.corpus import JobOptions, run_job
from speechtok.data import read_manifest
from test_corpus import make_corpus, read_all

KILLS = 4


def committed(out: Path) -> int:
    d = out / "data"
    return len([p for p in d.glob("train-*.parquet")]) if d.is_dir() else 0


def test_sigkill_at_random_moments_then_resume(tmp_path):
    seed = int(os.environ.get("SPEECHTOK_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"SPEECHTOK_KILL_SEED={seed}")  # shown on failure, to replay the same kill points
    manifest = make_corpus(tmp_path / "corpus", n_synthetic=40, seed=1)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "speechtok", "tokenize", "-t", "mulaw", "--data", str(manifest), "--out", str(out),
           "--shard-size", "2", "--workers", "2", "--batch-size", "3", "--no-progress"]
    num_shards = 23  # 46 inputs / 2

    kills, runs, rc = 0, 0, None
    at: list[int] = []  # shards committed when each kill landed
    # Kill points: one early (while starting or planning), the others after a random number of
    # shards were committed plus a random delay, so kills land mid-shard, mid-commit, anywhere.
    targets = sorted(rng.sample(range(1, num_shards - 2), KILLS - 1))
    while True:
        runs += 1
        assert runs <= KILLS + 3, "the job never finished"
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        if kills < KILLS:
            if kills == 0:
                time.sleep(rng.uniform(0.1, 1.0))
            else:
                deadline = time.monotonic() + 60
                while committed(out) < targets[kills - 1] and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.15))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the command and its reader processes
                proc.wait()
                at.append(committed(out))
                kills += 1
                continue
        stdout, stderr = proc.communicate(timeout=120)
        rc = proc.returncode
        break
    print(f"killed {kills} times, with {at} of {num_shards} shards committed")
    assert kills >= 2, f"only {kills} kills landed (seed {seed})"
    assert rc == 1, stderr.decode()  # 1: finished, with the two bad inputs reported
    assert "44 of 46 utterances" in stdout.decode()

    # Every input exactly once: in one row or one error line, never both, never twice.
    table = read_all(out)
    ids = table.column("id").to_pylist()
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    seen = ids + [e["id"] for e in errors]
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(u.id for u in read_manifest(manifest))
    assert sorted(e["id"] for e in errors) == ["bad/corrupt", "bad/empty"]

    # Every shard valid (full read), no leftovers, and the same rows as a run never killed.
    files = sorted((out / "data").iterdir())
    assert len(files) == num_shards and all(not p.name.startswith(".") for p in files)
    for p in files:
        pq.read_table(p).validate(full=True)
    ref = tmp_path / "ref"
    run_job(JobOptions(tokenizer="mulaw", data=str(manifest), out=str(ref), shard_size=2, workers=0, progress=False),
            log=lambda s: None)
    assert table.equals(read_all(ref))

    # And a rerun of the finished job does nothing.
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.stdout.startswith("nothing to do")
