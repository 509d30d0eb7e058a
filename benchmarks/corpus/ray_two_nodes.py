"""The corpus job on a local two-node Ray cluster, against the local backend, row for row.

Starts two Ray nodes on this machine (a head and a second node joining it, one CPU each, each
with its own temp dir; the commands are printed and are those of docs/corpus.md), runs

  python -m speechtok tokenize -t TOKENIZER --data MANIFEST --out OUT/ray \
      --backend ray --ray-address 127.0.0.1:PORT --workers 2 --no-progress

and the same job on the local backend, compares every row of the two outputs (all columns),
checks that tasks really ran on both nodes, and stops the cluster (its own processes only:
`ray start --block` in its own session, stopped by SIGTERM, then SIGKILL).

  python benchmarks/corpus/ray_two_nodes.py [--data data/asterisk/train.jsonl] [--json result.json]

The nodes and the job import the speechtok of this checkout (PYTHONPATH), not whatever the
environment has installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            sys.exit(f"{what} exited early (rc {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"{what} did not come up within {timeout:.0f} s")
            time.sleep(0.5)


PROBE = """
import json, sys, time, ray
ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)
deadline = time.monotonic() + 120
while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.monotonic() < deadline:
    time.sleep(0.5)
@ray.remote(num_cpus=1)
def where():
    time.sleep(1.0)  # hold the CPU, so the two tasks need the two nodes
    return ray.get_runtime_context().get_node_id()
print(json.dumps({"alive_nodes": len([n for n in ray.nodes() if n["Alive"]]),
                  "cpus": ray.cluster_resources().get("CPU"),
                  "task_nodes": sorted(set(ray.get([where.remote() for _ in range(2)])))}))
"""


def rows(out: Path) -> dict:
    import pyarrow.parquet as pq

    return {r["id"]: r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", default="speechtok-fast")
    p.add_argument("--data", default=str(ROOT / "data/asterisk/train.jsonl"))
    p.add_argument("--json", default=None)
    args = p.parse_args()
    data = str(Path(args.data).resolve())
    ray_bin = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="rn", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    head_cmd = [ray_bin, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port),
                "--num-cpus", "1", "--include-dashboard", "false", "--temp-dir", str(tmp / "head"), "--disable-usage-stats"]
    node_cmd = [ray_bin, "start", "--block", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1",
                "--num-cpus", "1", "--temp-dir", str(tmp / "node2"), "--disable-usage-stats"]
    procs: list[subprocess.Popen] = []
    result: dict = {"head": " ".join(c for c in head_cmd if c != "--block"), "node2": " ".join(c for c in node_cmd if c != "--block")}
    try:
        for cmd, what in ((head_cmd, "the head node"), (node_cmd, "the second node")):
            print("$", " ".join(cmd), file=sys.stderr)
            procs.append(subprocess.Popen(cmd, stdout=open(tmp / f"{len(procs)}.log", "w"), stderr=subprocess.STDOUT,
                                          env=env, cwd=tmp, start_new_session=True))
            if len(procs) == 1:
                wait_port(port, procs[0], what)
        probe = subprocess.run([sys.executable, "-c", PROBE, f"127.0.0.1:{port}"], capture_output=True, text=True,
                               env=env, cwd=tmp, timeout=300)
        if probe.returncode:
            sys.exit(f"probe failed: {probe.stderr[-2000:]}")
        result["cluster"] = json.loads(probe.stdout.strip().splitlines()[-1])
        print("cluster:", result["cluster"], file=sys.stderr)
        for backend in ("ray", "local"):
            out = tmp / backend
            cmd = [sys.executable, "-m", "speechtok", "tokenize", "-t", args.tokenizer, "--data", data, "--out", str(out),
                   "--no-progress"]
            if backend == "ray":
                cmd += ["--backend", "ray", "--ray-address", f"127.0.0.1:{port}", "--workers", "2"]
            print("$", " ".join(cmd), file=sys.stderr)
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp, timeout=1800)
            wall = time.perf_counter() - t0
            if res.returncode not in (0, 1):
                sys.exit(f"{backend} job failed: {res.stderr[-3000:]}")
            hours = json.loads((out / "index.json").read_text())["totals"]["hours"]
            result[backend] = {"wall_s": round(wall, 2), "hours": hours, "x_real_time": round(hours * 3600 / wall, 1),
                               "stdout": res.stdout.strip()}
            print(f"{backend}: {wall:.1f} s, {hours * 3600 / wall:.0f}x real time", file=sys.stderr)
        a, b = rows(tmp / "local"), rows(tmp / "ray")
        result["rows"] = len(a)
        result["identical"] = a == b
        result["differing_rows"] = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))[:20]
        print(json.dumps(result, indent=1))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
        if not result["identical"] or len(result["cluster"]["task_nodes"]) != 2:
            sys.exit(1)
    finally:
        for proc in reversed(procs):  # `ray start --block` stops its node's processes on SIGTERM
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in reversed(procs):
            try:
                proc.wait(timeout=3)  # its servers take a grace period of over 15 s
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever of its session is left
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
