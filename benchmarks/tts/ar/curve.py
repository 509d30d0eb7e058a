"""The autoregressive voice against training steps: each kept snapshot of runs/lm-tts-en-allison
(copied at its checkpoints into runs/lm-tts-snaps/stepN/) on the validation sentences (never the
test split), greedy decoding: pocketsphinx WER/CER, speaker similarity, DNSMOS, and how long the
speech is against the recordings (an AR model that never stops runs to --max-seconds).

    python benchmarks/tts/ar/curve.py runs/lm-tts-snaps --manifest runs/ar-tts/valid.jsonl \
        --out benchmarks/tts/ar/curve.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import torch

from speechtok.lm.say import LMVoice
from speechtok.tts.bench import bench_voice


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("snaps", type=Path)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--limit", type=int, default=21)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    done = json.loads(args.out.read_text())["points"] if args.out.exists() else []
    seen = {p["step"] for p in done}
    for d in sorted(args.snaps.glob("step*"), key=lambda p: int(re.sub(r"\D", "", p.name))):
        step = int(re.sub(r"\D", "", d.name))
        if step in seen:
            continue
        v = LMVoice.load(d, speaker="allison_smith")
        res = bench_voice(v, args.manifest, args.limit, classic=False, progress=False, references=False, voice_name="allison_smith")
        s = res["summary"][f"speechtok-tts ({v.name})"]
        o = res["summary"]["original recording"]
        rows = res["rows"][f"speechtok-tts ({v.name})"]
        point = {"step": step, **{k: round(x, 4) for k, x in s.items()},
                 "seconds": round(sum(r["seconds"] for r in rows), 2),
                 "original_seconds": round(sum(r["seconds"] for r in res["rows"]["original recording"]), 2),
                 "original_cer_corpus": round(o["cer_corpus"], 4)}
        done.append(point)
        done.sort(key=lambda p: p["step"])
        args.out.write_text(json.dumps({"snapshots": str(args.snaps), "manifest": args.manifest, "points": done}, indent=1) + "\n")
        print(json.dumps(point), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
