"""The Ray backend on a real (local, loopback) Ray cluster gives the same shards as the local one.

Each test starts its own Ray cluster on 127.0.0.1 (a head with 2 CPUs; or two nodes of one CPU
each, as docs/corpus.md starts them), runs `speechtok tokenize --backend ray --ray-address ...
--workers 2` in a subprocess as a client of it, compares the output with the local backend's
byte for byte, and stops the nodes (their own process groups only).
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


def start_node(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop_nodes(procs: list[subprocess.Popen]) -> None:
    """`ray start --block` stops its node on SIGTERM, but its servers take their grace period
    (over 15 s); each node runs in its own process group, whatever is left of it after a few
    seconds is killed."""
    for proc in reversed(procs):
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def ray_cluster(cpus_per_node: list[int]):
    """A Ray cluster on loopback: a head and more nodes joining it, one per entry of
    ``cpus_per_node``, each with its own temp dir (two nodes on one machine, as docs/corpus.md
    starts them); yields the head's address."""
    ray_bin = Path(sys.executable).with_name("ray")
    # A short temp dir: Ray's socket paths must fit in 107 bytes.
    tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    port = free_port()
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    common = ["--block", "--node-ip-address", "127.0.0.1", "--disable-usage-stats"]
    procs = [start_node([str(ray_bin), "start", "--head", "--port", str(port), "--num-cpus", str(cpus_per_node[0]),
                         "--include-dashboard", "false", "--temp-dir", str(tmp / "n0"), *common], env, tmp / "n0.log")]
    try:
        deadline = time.monotonic() + 60
        while True:  # up once the GCS port answers
            if procs[0].poll() is not None:
                pytest.fail(f"ray start exited: {(tmp / 'n0.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the Ray head did not come up within 60 s")
                time.sleep(0.5)
        for i, cpus in enumerate(cpus_per_node[1:], 1):
            procs.append(start_node([str(ray_bin), "start", "--address", f"127.0.0.1:{port}", "--num-cpus", str(cpus),
                                     "--temp-dir", str(tmp / f"n{i}"), *common], env, tmp / f"n{i}.log"))
        yield f"127.0.0.1:{port}"
    finally:
        stop_nodes(procs)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def ray_head():
    """A Ray head on loopback with 2 CPUs; yields its address."""
    yield from ray_cluster([2])


@pytest.fixture
def ray_two_nodes():
    """Two Ray nodes on loopback, one CPU each; yields the head's address."""
    yield from ray_cluster([1, 1])


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


def test_ray_two_node_cluster_matches_local(tmp_path, ray_two_nodes):
    """The fast source-filter model on two nodes of one CPU each (so both nodes take shards)
    writes the local backend's bytes."""
    import ray

    ray.init(address=ray_two_nodes, logging_level="ERROR", log_to_driver=False)
    try:  # the second node has joined before the job starts
        deadline = time.monotonic() + 60
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            assert time.monotonic() < deadline, "the second Ray node did not join within 60 s"
            time.sleep(0.5)
        assert ray.cluster_resources().get("CPU") == 2
    finally:
        ray.shutdown()
    manifest = make_corpus(tmp_path / "corpus", n_synthetic=6)
    local = tmp_path / "local"
    run_job(JobOptions(tokenizer="speechtok-fast", data=str(manifest), out=str(local), shard_size=3, workers=2,
                       progress=False), log=lambda s: None)
    out = tmp_path / "ray"
    cmd = [sys.executable, "-m", "speechtok", "tokenize", "-t", "speechtok-fast", "--data", str(manifest), "--out",
           str(out), "--shard-size", "3", "--backend", "ray", "--ray-address", ray_two_nodes, "--workers", "2",
           "--no-progress"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))
    assert res.returncode == 1, res.stderr[-3000:]  # 1: the two bad inputs, reported
    names = sorted(p.name for p in (local / "data").iterdir())
    assert names == sorted(p.name for p in (out / "data").iterdir()) and len(names) == 4
    for name in names:
        assert (out / "data" / name).read_bytes() == (local / "data" / name).read_bytes(), name
    assert (out / "errors.jsonl").read_text() == (local / "errors.jsonl").read_text()
