"""Where the fast model's encoding time goes: CPU seconds per stage, one thread, one process.

  python benchmarks/corpus/stages.py [--code OTHER_CHECKOUT] [--every 6] [--limit 300] [-t speechtok-fast]

Reads every EVERY-th utterance of the manifest (sorted by id, at most LIMIT), then encodes each
one as a corpus worker does (tok.encode), REPEATS times, timing with process CPU time: reading
(decode + resample), YIN (fast.yin), the envelope (fast.envelope), the rest of the analysis,
the band-limit detection, the quantizer (features, nearest codewords) and the rest of encode.
CPU time, not wall time, so the shares hold on a busy machine (the absolute figures do not:
another process on the same core slows this one's caches too). --code runs another speechtok
(PYTHONPATH) in a subprocess, so two versions can be compared in one call with --compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def measure(args) -> dict:
    import torch

    torch.set_num_threads(1)
    import speechtok
    from speechtok.codec.sourcefilter import fast
    from speechtok.corpus.encode import read_input
    from speechtok.data import read_manifest

    utts = sorted(read_manifest(args.data), key=lambda u: u.id)[:: args.every][: args.limit]
    tok = speechtok.load(args.tokenizer)
    codec = tok.codec
    spent = dict.fromkeys(["read", "yin", "envelope", "analysis other", "band limit", "quantize", "encode other"], 0.0)

    def timed(fn, key):
        def wrapper(*a, **k):
            t0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.process_time() - t0
        return wrapper

    waves = []
    t0 = time.process_time()
    for u in utts:
        waves.append(read_input((u.path, tok.sample_rate)).wav)
    spent["read"] = (time.process_time() - t0) * args.repeats
    tok.encode(waves[0], tok.sample_rate)  # warm the caches (tables, matrices)
    fast.yin, fast.envelope = timed(fast.yin, "yin"), timed(fast.envelope, "envelope")
    analyze_many, band_limit, quantize = codec.analyze_many, codec.band_limit, codec.quantize
    codec.analyze_many = timed(analyze_many, "analysis")
    codec.band_limit = timed(band_limit, "band limit")
    codec.quantize = timed(quantize, "quantize")
    spent["analysis"] = 0.0
    t0 = time.process_time()
    for _ in range(args.repeats):
        for w in waves:
            tok.encode(w, tok.sample_rate)
    total = time.process_time() - t0
    spent["analysis other"] = spent.pop("analysis") - spent["yin"] - spent["envelope"]
    spent["encode other"] = total - spent["analysis other"] - spent["yin"] - spent["envelope"] - spent["band limit"] - spent["quantize"]
    audio = sum(len(w) for w in waves) / tok.sample_rate * args.repeats
    return {"speechtok": speechtok.__file__, "tokenizer": args.tokenizer, "utterances": len(waves), "audio_s": audio,
            "cpu_s": {k: round(v, 3) for k, v in spent.items()}, "encode_cpu_s": round(total, 3),
            "x_real_time_per_core": {"encode": round(audio / total, 1),
                                     "read + encode": round(audio / (total + spent["read"]), 1)}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-t", "--tokenizer", default="speechtok-fast")
    p.add_argument("--data", default=str(ROOT / "data/asterisk/train.jsonl"))
    p.add_argument("--every", type=int, default=6)
    p.add_argument("--limit", type=int, default=300)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--code", help="run another speechtok (a folder holding its package)")
    p.add_argument("--compare", help="also run this other speechtok and print both, alternating --rounds times")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.data = str(Path(args.data).resolve())
    if args.inner:
        print(json.dumps(measure(args)))
        return
    codes = [Path(args.code).resolve() if args.code else ROOT] + ([Path(args.compare).resolve()] if args.compare else [])
    results = []
    for r in range(args.rounds if args.compare else 1):
        for code in codes if r % 2 == 0 else codes[::-1]:
            env = dict(os.environ, PYTHONPATH=f"{code}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", OMP_NUM_THREADS="1")
            cmd = [sys.executable, __file__, "--inner", "-t", args.tokenizer, "--data", args.data, "--every", str(args.every),
                   "--limit", str(args.limit), "--repeats", str(args.repeats)]
            res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
            if res.returncode:
                sys.exit(res.stderr[-3000:])
            out = json.loads(res.stdout.strip().splitlines()[-1])
            out["load_before"] = os.getloadavg()[0]
            results.append(out)
            print(json.dumps(out), file=sys.stderr)
    keys = list(results[0]["cpu_s"])
    print("| speechtok | audio s | " + " | ".join(f"{k} CPU s" for k in keys) + " | encode x real time per core |")
    print("|---|---|" + "---|" * len(keys) + "---|")
    for r in results:
        total = r["encode_cpu_s"] + r["cpu_s"]["read"]
        print(f"| {r['speechtok'].rsplit('/speechtok/', 1)[0]} | {r['audio_s']:.0f} | "
              + " | ".join(f"{r['cpu_s'][k]:.2f} ({100 * r['cpu_s'][k] / total:.0f} %)" for k in keys)
              + f" | {r['x_real_time_per_core']['encode']:.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
