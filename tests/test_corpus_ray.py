"""The Ray backend on a real (local, loopback) Ray cluster gives the same shards as the local one.

The test starts its own Ray head on 127.0.0.1 with 2 CPUs, runs `speechtok tokenize --backend
ray --ray-address ... --workers 2` in a subprocess as a client of it, compares the output with
the local backend's byte for byte, and stops the head (its own process group only).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from speechtok.corpus import JobOptions, run_job
from test_corpus import make_corpus

pytest.importorskip("ray", reason="the ray backend needs ray: pip install 'ray[data]'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head():
    """A Ray head on loopback; yields its address. Stopped by killing its process group."""
    ray_bin = Path(sys.executable).with_name("ray")
    # A short temp dir: Ray's socket paths must fit in 107 bytes.
    tmp = tempfile.mkdtemp(prefix="rt", dir="/tmp")
    port = free_port()
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    proc = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
         "--num-cpus", "2", "--include-dashboard", "false", "--temp-dir", tmp, "--disable-usage-stats"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # up once the GCS port answers
            if proc.poll() is not None:
                pytest.fail(f"ray start exited: {proc.stdout.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the Ray head did not come up within 60 s")
                time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # `ray start --block` stops its cluster on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def test_ray_backend_matches_local(tmp_path, ray_head):
    manifest = make_corpus(tmp_path / "corpus", n_synthetic=6)
    local = tmp_path / "local"
    run_job(JobOptions(tokenizer="mulaw", data=str(manifest), out=str(local), shard_size=3, workers=1, progress=False),
            log=lambda s: None)

    out = tmp_path / "ray"
    cmd = [sys.executable, "-m", "speechtok", "tokenize", "-t", "mulaw", "--data", str(manifest), "--out", str(out),
           "--shard-size", "3", "--backend", "ray", "--ray-address", ray_head, "--workers", "2", "--no-progress"]
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 1, res.stderr[-3000:]  # 1: the two bad inputs, reported
    assert "10 of 12 utterances" in res.stdout

    names = sorted(p.name for p in (local / "data").iterdir())
    assert names == sorted(p.name for p in (out / "data").iterdir()) and len(names) == 4
    for name in names:
        assert (out / "data" / name).read_bytes() == (local / "data" / name).read_bytes(), name
    assert (out / "errors.jsonl").read_text() == (local / "errors.jsonl").read_text()
