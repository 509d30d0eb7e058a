"""Quality of a voice against training CPU-minutes: every snapshot of a run (and its final
weights) on the validation sentences (never the test split), beside the run's validation losses.

    python benchmarks/tts/curve.py runs/tts-en-allison --manifest data/asterisk/valid.jsonl \
        --out benchmarks/tts/curve-en.json

WER/CER need English (pocketsphinx); for other languages the curve has speaker similarity,
DNSMOS and the losses.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from speechtok.tts import load
from speechtok.tts.bench import bench_voice


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--limit", type=int, default=21)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    log = [json.loads(x) for x in (args.run / "log.jsonl").read_text().splitlines()]
    snaps = sorted((args.run / "snapshots").glob("*.safetensors"), key=lambda p: float(re.search(r"cpu([\d.]+)min", p.name).group(1)))
    points = []
    for w in [*snaps, args.run / "model.safetensors"]:
        m = re.search(r"cpu([\d.]+)min-step(\d+)", w.name)
        step = int(m.group(2)) if m else log[-1]["step"]
        cpu = float(m.group(1)) if m else log[-1]["cpu_minutes"]
        v = load(args.run, w)
        res = bench_voice(v, args.manifest, args.limit, classic=False, progress=False, references=False)
        s = res["summary"][f"speechtok-tts ({v.name})"]
        val = [r for r in log if "valid_loss" in r and r["step"] <= step]
        point = {"weights": w.name, "step": step, "cpu_minutes": round(cpu, 2), **{k: round(x, 4) for k, x in s.items()},
                 "valid_loss": val[-1]["valid_loss"] if val else None, "valid_feat": val[-1]["valid_feat"] if val else None}
        points.append(point)
        print(json.dumps(point), flush=True)
    orig = res["summary"]["original recording"]
    args.out.write_text(json.dumps({"run": str(args.run), "manifest": args.manifest, "original": orig, "points": points}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
