"""Bit-identity check: the same tokenize job with another speechtok (e.g. the code before a speed-up)
and with this checkout, every row compared.

  git -C . archive 0d10a21 speechtok | (mkdir -p /tmp/stk-old && tar -x -C /tmp/stk-old)
  python benchmarks/corpus/identical.py --old /tmp/stk-old [--data data/asterisk/train.jsonl] [-t speechtok-fast]
  python benchmarks/corpus/identical.py --dirs OUT_A OUT_B   # two finished jobs

Each job runs as `python -m speechtok tokenize ... --workers 2 --no-progress` from a folder with
no speechtok/ in it, with PYTHONPATH naming the code to run. Rows are matched by id; `codes` must
be equal element for element (and shape), and so must every other column of the row. index.json
and the dataset card are not compared (they hold timings and paths). Exit status 1 on any
difference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def rows(out: Path) -> dict:
    import pyarrow.parquet as pq

    return {r["id"]: r for f in sorted((out / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()}


def compare(a: Path, b: Path) -> dict:
    import numpy as np

    ra, rb = rows(a), rows(b)
    only = sorted(ra.keys() ^ rb.keys())
    codes_diff, other_diff, frames = [], [], 0
    for k in sorted(ra.keys() & rb.keys()):
        x, y = ra[k], rb[k]
        ca, cb = np.asarray(x["codes"], np.int64), np.asarray(y["codes"], np.int64)
        frames += ca.shape[-1] if ca.ndim == 2 else 0
        if ca.shape != cb.shape or not np.array_equal(ca, cb):
            codes_diff.append(k)
        if {c: v for c, v in x.items() if c != "codes"} != {c: v for c, v in y.items() if c != "codes"}:
            other_diff.append(k)
    errors = [(p / "errors.jsonl").read_text() if (p / "errors.jsonl").exists() else "" for p in (a, b)]
    return {"rows": [len(ra), len(rb)], "frames": frames, "ids_in_one_only": only[:20],
            "codes_differ": codes_diff[:20], "num_codes_differ": len(codes_diff),
            "other_columns_differ": other_diff[:20], "num_other_columns_differ": len(other_diff),
            "errors_equal": errors[0] == errors[1],
            "identical": not only and not codes_diff and not other_diff and errors[0] == errors[1]}


def run(code: Path, tokenizer: str, data: str, out: Path) -> None:
    env = dict(os.environ, PYTHONPATH=f"{code}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [sys.executable, "-m", "speechtok", "tokenize", "-t", tokenizer, "--data", data, "--out", str(out),
           "--workers", "2", "--no-progress"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=out.parent)
    if res.returncode not in (0, 1):
        sys.exit(f"{code}: tokenize failed: {res.stderr[-3000:]}")
    print(f"{code}: {res.stdout.strip()}", file=sys.stderr)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", help="a folder holding the other speechtok package")
    p.add_argument("--dirs", nargs=2, help="compare two finished jobs instead")
    p.add_argument("-t", "--tokenizer", default="speechtok-fast")
    p.add_argument("--data", default=str(ROOT / "data/asterisk/train.jsonl"))
    p.add_argument("--json", help="write the result here")
    args = p.parse_args()
    if args.dirs:
        result = compare(Path(args.dirs[0]), Path(args.dirs[1]))
    else:
        if not args.old:
            p.error("give --old CODE or --dirs A B")
        tmp = Path(tempfile.mkdtemp(prefix="stk-identical-"))
        try:
            run(Path(args.old).resolve(), args.tokenizer, str(Path(args.data).resolve()), tmp / "old")
            run(ROOT, args.tokenizer, str(Path(args.data).resolve()), tmp / "new")
            result = compare(tmp / "old", tmp / "new")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        result.update(old=str(Path(args.old).resolve()), new=str(ROOT), tokenizer=args.tokenizer, data=args.data)
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    sys.exit(0 if result["identical"] else 1)


if __name__ == "__main__":
    main()
