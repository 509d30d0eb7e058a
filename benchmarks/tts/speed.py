"""Synthesis speed of a voice: time to first audio and real-time factor of whole sentences,
at 1 and 2 torch threads (best of 3 passes over the same sentences, after a warm-up pass).

    python benchmarks/tts/speed.py --model speechtok-tts-en --manifest data/asterisk/test.jsonl

Run it when nothing else runs: small convolutions on 2 threads slow down many times over when
the cores are shared.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from speechtok.tts import load
from speechtok.tts.data import read_manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="speechtok-tts-en")
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--limit", type=int, default=10)
    args = ap.parse_args(argv)
    v = load(args.model)
    name = v.voices[0]
    texts = [r["text"] for r in read_manifest(args.manifest, [name], v.languages[name])[: args.limit]]
    out = {"model": args.model, "sentences": len(texts), "load_average": os.getloadavg()[0]}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for t in texts:
            v.say(t)
        best = None
        for _ in range(3):
            t0 = time.perf_counter()
            runs = [v.timing(t, name) for t in texts]
            el = time.perf_counter() - t0
            firsts = [r["first_audio_s"] for r in runs]
            audio = sum(r["audio_s"] for r in runs)
            r = {"x_real_time": round(audio / el, 1), "first_audio_ms_mean": round(1000 * sum(firsts) / len(firsts), 1),
                 "first_audio_ms_max": round(1000 * max(firsts), 1), "audio_s": round(audio, 2)}
            best = r if best is None or r["x_real_time"] > best["x_real_time"] else best
        out[f"threads_{threads}"] = best
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
