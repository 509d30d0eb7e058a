"""F0 tracker choice: voicing and gross pitch errors of DIO settings and of our YIN against Harvest.

Harvest (pyworld, 5 ms) is the slower reference. For each DIO setting and for the YIN tracker of
``analysis.method: stft`` (``speechtok/codec/sourcefilter/fast.py``, default thresholds): voicing decision error
(VDE: frames where the voiced/unvoiced call differs), the share of reference-voiced frames missed,
gross pitch error (GPE: |F0 / F0_ref - 1| > 20 % on frames both call voiced), and real-time factor
on one thread. Data: the validation split of the Asterisk prompts (never the test split) and the
unseen synthetic voices.

    python benchmarks/sourcefilter/tracker.py --data data/asterisk/valid.jsonl --data data/unseen-voices/manifest.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from speechtok.audio import load_audio
from speechtok.codec.sourcefilter import fast
from speechtok.codec.sourcefilter.config import AnalysisConfig
from speechtok.data.manifest import read_manifest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pyworld

SETTINGS = {"dio default (allowed_range 0.1)": 0.1, "dio allowed_range 0.2": 0.2,
            "dio allowed_range 0.4 (method world)": 0.4, "yin (method stft)": "yin"}


def track(x: np.ndarray, setting) -> np.ndarray:
    if setting == "yin":
        a = AnalysisConfig()
        f0, _, _ = fast.yin(torch.from_numpy(x.astype(np.float32))[None], 16000, 80, a.f0_min, a.f0_max,
                            a.yin_threshold, a.voicing_threshold, a.min_voiced_ms)
        return f0[0]
    f0, t = pyworld.dio(x, 16000, f0_floor=60, f0_ceil=600, frame_period=5, allowed_range=setting)
    return pyworld.stonemask(x, f0, t, 16000)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/sourcefilter/tracker.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {}
    for manifest in args.data:
        utts = read_manifest(manifest)
        utts = utts[:: max(1, len(utts) // args.limit)][: args.limit]
        acc = {k: np.zeros(6) for k in SETTINGS}
        t_ref = 0.0
        dur = 0.0
        for u in utts:
            x = load_audio(u.path, 16000)[0].astype(np.float64)
            dur += len(x) / 16000
            t0 = time.perf_counter()
            ref, _ = pyworld.harvest(x, 16000, f0_floor=60, f0_ceil=600, frame_period=5)
            t_ref += time.perf_counter() - t0
            for name, ar in SETTINGS.items():
                t0 = time.perf_counter()
                f0 = track(x, ar)
                dt = time.perf_counter() - t0
                n = min(len(f0), len(ref))
                a, b = ref[:n] > 0, f0[:n] > 0
                both = a & b
                gross = (np.abs(f0[:n][both] / ref[:n][both] - 1) > 0.2).sum()
                acc[name] += [(a != b).sum(), n, (a & ~b).sum(), gross, both.sum(), dt]
        results[manifest] = {
            "utterances": len(utts), "seconds": round(dur, 1), "reference": "pyworld harvest 5 ms, 60-600 Hz",
            "reference_x_realtime": round(dur / t_ref, 1),
            **{name: {"VDE": round(v[0] / v[1], 4), "missed_voiced": round(v[2] / v[1], 4), "GPE": round(v[3] / max(v[4], 1), 4),
                      "x_realtime": round(dur / v[5], 1)} for name, v in acc.items()},
        }
        print(json.dumps({manifest: results[manifest]}, indent=1))
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
