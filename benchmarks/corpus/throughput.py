"""Corpus tokenization throughput: the whole `speechtok tokenize` job, idle and beside a CPU hog.

Runs `python -m speechtok tokenize -t TOKENIZER --data MANIFEST --out <new temp folder>
--no-progress [--workers N]` as a subprocess, REPEATS times per setting, and reports audio hours
per wall-clock hour of the whole job ("job": start-up, listing, planning, reading, encoding,
writing shards and index, exit) and of the phase the job reports itself ("encode": reading +
encoding + writing). With --busy, the same job runs while one other CPU-bound process
(`python -c "while True: pass"`, started first and killed after) competes for the cores.

  python benchmarks/corpus/throughput.py                          # idle and busy, default workers
  python benchmarks/corpus/throughput.py --modes idle --workers 1 2 --repeats 5
  python benchmarks/corpus/throughput.py --code /tmp/old-checkout  # another speechtok checkout

Every output of a setting is compared with the first one, row for row (all columns), so a run
also checks that the shards do not depend on workers or load. Prints a Markdown table and,
with --json, writes the raw figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0]) if Path("/proc/loadavg").exists() else float("nan")


def run_job(args, workers: int | None, out: Path, env: dict) -> dict:
    cmd = [sys.executable, "-m", "speechtok", "tokenize", "-t", args.tokenizer, "--data", args.data, "--out", str(out),
           "--no-progress"] + ([] if workers is None else ["--workers", str(workers)])
    before = load()
    t0 = time.perf_counter()
    # from a folder without a speechtok/ in it: `python -m` puts the working folder first on
    # sys.path, which would shadow PYTHONPATH (--code)
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out.parent)
    wall = time.perf_counter() - t0
    if res.returncode not in (0, 1):
        sys.exit(f"tokenize failed ({res.returncode}): {res.stderr[-3000:]}")
    totals = json.loads((out / "index.json").read_text())["totals"]
    m = re.search(r"in ([\d.]+) s = ", res.stdout)
    return {"wall_s": wall, "hours": totals["hours"], "job_x": totals["hours"] * 3600 / wall,
            "encode_s": float(m.group(1)) if m else None,
            "encode_x": totals["hours"] * 3600 / float(m.group(1)) if m else None, "load_before": before}


def rows(out: Path) -> dict:
    import pyarrow.parquet as pq

    found = {}
    for f in sorted((out / "data").glob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            found[r["id"]] = r
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokenizer", default="speechtok-fast")
    p.add_argument("--data", default=str(ROOT / "data/asterisk/train.jsonl"))
    p.add_argument("--workers", nargs="*", type=int, default=[], help="worker counts to try (default: the job's default)")
    p.add_argument("--modes", nargs="+", default=["idle", "busy"], choices=["idle", "busy"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--code", default=None, help="a folder holding another speechtok package to run (PYTHONPATH)")
    p.add_argument("--keep", default=None, help="keep the first output here (a new folder)")
    p.add_argument("--json", default=None, help="write the raw figures here")
    args = p.parse_args()
    args.data = str(Path(args.data).resolve())
    env = dict(os.environ)
    # the speechtok this script belongs to (or --code), whatever the environment has installed
    code = Path(args.code).resolve() if args.code else ROOT
    env["PYTHONPATH"] = str(code) + os.pathsep + env.get("PYTHONPATH", "")
    tmp = Path(tempfile.mkdtemp(prefix="stk-corpus-bench-"))
    where = subprocess.run([sys.executable, "-c", "import speechtok; print(speechtok.__file__)"], capture_output=True,
                           text=True, env=env, cwd=tmp).stdout.strip()
    print(f"speechtok from {where}", file=sys.stderr)
    results, reference = [], None
    try:
        for mode in args.modes:
            for w in args.workers or [None]:
                for rep in range(args.repeats):
                    hog = None
                    if mode == "busy":
                        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                        time.sleep(1.0)  # let it take its core
                    out = tmp / f"{mode}-{w}-{rep}"
                    try:
                        r = run_job(args, w, out, env)
                    finally:
                        if hog is not None:
                            hog.kill()
                            hog.wait()
                    r.update(mode=mode, workers=w, repeat=rep)
                    got = rows(out)
                    if reference is None:
                        reference = got
                        if args.keep:
                            shutil.copytree(out, args.keep)
                    r["identical_to_first"] = got == reference
                    results.append(r)
                    print(f"{mode} workers={w if w is not None else 'default'} #{rep}: job {r['wall_s']:.2f} s = "
                          f"{r['job_x']:.0f}x, encode {r['encode_x'] or float('nan'):.0f}x, load before {r['load_before']:.2f}, "
                          f"identical {r['identical_to_first']}", file=sys.stderr, flush=True)
                    shutil.rmtree(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"{args.tokenizer} on {args.data}; speechtok from {where}\n")
    print("| mode | workers | audio h | job wall s (best / median) | job x real time (best / median) | encode x (best) | load avg before | rows identical |")
    print("|---|---|---|---|---|---|---|---|")
    for mode in args.modes:
        for w in args.workers or [None]:
            rs = [r for r in results if r["mode"] == mode and r["workers"] == w]
            walls = sorted(r["wall_s"] for r in rs)
            med = walls[len(walls) // 2]
            h = rs[0]["hours"]
            enc = max((r["encode_x"] or 0) for r in rs)
            loads = ", ".join(f"{r['load_before']:.2f}" for r in rs)
            print(f"| {mode} | {w if w is not None else 'default'} | {h:.3f} | {walls[0]:.2f} / {med:.2f} | "
                  f"{h * 3600 / walls[0]:,.0f} / {h * 3600 / med:,.0f} | {enc:,.0f} | "
                  f"{loads} | {all(r['identical_to_first'] for r in rs)} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
