"""Design choices of the backbone, measured without training (unquantized parameters at 50 Hz):
DIO's voicing threshold and how often the envelope is sampled. Validation split only.

    python benchmarks/sourcefilter/ablation.py --data data/asterisk/valid.jsonl --limit 104
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from speechtok.audio import load_audio
from speechtok.codec.sourcefilter.config import SourceFilterConfig
from speechtok.codec.sourcefilter.model import SourceFilterCodec
from speechtok.data.manifest import read_manifest
from speechtok.eval.metrics.perceptual import pesq_wb, stoi

VARIANTS = {
    "shipped: allowed_range 0.4, envelope every 10 ms": {},
    "allowed_range 0.1 (DIO default)": {"allowed_range": 0.1},
    "allowed_range 0.2": {"allowed_range": 0.2},
    "envelope every 20 ms (1 per frame)": {"envelope_subframes": 1},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="data/asterisk/valid.jsonl")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/sourcefilter/ablation.json"))
    args = ap.parse_args()
    utts = read_manifest(args.data)
    utts = utts[:: max(1, len(utts) // args.limit)][: args.limit]
    wavs = [load_audio(u.path, 16000)[0] for u in utts]
    out = {"data": args.data, "utterances": len(utts), "variants": {}}
    for name, change in VARIANTS.items():
        cfg = SourceFilterConfig()
        for k, v in change.items():
            setattr(cfg.analysis, k, v)
        codec = SourceFilterCodec(cfg)
        s = [(pesq_wb(x, y), stoi(x, y)) for x in wavs for y in [codec.render(codec.analyze(x), len(x))]]
        out["variants"][name] = {"pesq_wb": round(float(np.mean([a for a, _ in s])), 3),
                                 "stoi": round(float(np.mean([b for _, b in s])), 3)}
        print(f"{name:50s} PESQ-WB {out['variants'][name]['pesq_wb']:.3f}  STOI {out['variants'][name]['stoi']:.3f}")
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
