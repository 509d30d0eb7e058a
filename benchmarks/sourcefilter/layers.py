"""Each layer of the source-filter codec measured on its own, on the same utterances:

1. the backbone: analysis -> synthesis from unquantized parameters (no training at all);
2. + quantization: pitch symbol + 1..K residual k-means stages (no refiner);
3. + the refiner (when the run has one), at every rate.

    python benchmarks/sourcefilter/layers.py --run speechtok/assets/models/speechtok-sf-50hz \
        --data data/asterisk/valid.jsonl --limit 40 --out benchmarks/sourcefilter/layers-50hz-valid.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from speechtok.audio import load_audio
from speechtok.codec.sourcefilter.tokenizer import read_sf_run
from speechtok.data.manifest import read_manifest
from speechtok.eval.metrics.perceptual import pesq_wb, stoi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run", required=True, help="source-filter run folder")
    ap.add_argument("--data", required=True)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    codec, cfg, digest = read_sf_run(args.run)
    utts = read_manifest(args.data)
    utts = utts[:: max(1, len(utts) // args.limit)][: args.limit]
    K = cfg.model.quant.num_stages
    has_refiner = cfg.model.refiner.enabled
    variants = ["backbone (unquantized)"] + [f"quantized, {k} stage(s)" for k in range(1, K + 1)]
    if has_refiner:
        variants += [f"quantized + refiner, {k} stage(s)" for k in range(1, K + 1)]
    scores = {v: [] for v in variants}
    t0 = time.time()
    for u in utts:
        x = load_audio(u.path, 16000)[0]
        fr = codec.analyze(x)
        outs = {"backbone (unquantized)": codec.render(fr, len(x))}
        for k in range(1, K + 1):
            codes = codec.quantize(fr, k)
            outs[f"quantized, {k} stage(s)"] = codec.render(codec.dequantize(codes, refine=False), len(x))
            if has_refiner:
                outs[f"quantized + refiner, {k} stage(s)"] = codec.render(codec.dequantize(codes, refine=True), len(x))
        for v, y in outs.items():
            scores[v].append((pesq_wb(x, y), stoi(x, y)))
    kbps = {f"{k}": cfg.model.frame_rate * (np.log2(cfg.model.quant.pitch_levels) + k * np.log2(cfg.model.quant.codebook_size)) / 1000
            for k in range(1, K + 1)}
    result = {
        "run": str(args.run), "weights": digest, "data": args.data, "utterances": len(utts),
        "seconds_of_audio": round(sum(len(load_audio(u.path, 16000)[0]) for u in utts) / 16000, 1),
        "kbps_per_stages": kbps, "wall_seconds": round(time.time() - t0, 1),
        "layers": {v: {"pesq_wb": round(float(np.mean([s[0] for s in sc])), 3), "stoi": round(float(np.mean([s[1] for s in sc])), 3)}
                   for v, sc in scores.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for v, r in result["layers"].items():
        print(f"{v:36s} PESQ-WB {r['pesq_wb']:.3f}  STOI {r['stoi']:.3f}")


if __name__ == "__main__":
    main()
