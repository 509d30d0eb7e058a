"""Speed of the autoregressive voice (`speechtok lm say`): plain greedy against speculative greedy
(the LM's MTP heads drafting), on the held-out test sentences; checks the codes are identical.

    python benchmarks/tts/ar/speed.py runs/lm-tts-en-allison --manifest runs/ar-tts/test.jsonl \
        --out benchmarks/tts/ar/speed.json

Process CPU seconds (the machine may be shared), AR steps, LM passes, drafted steps kept, and the
real-time factor of token generation and of the whole sentence (generation + decoding).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from speechtok.lm.say import LMVoice
from speechtok.lm.speculative import make_draft
from speechtok.lm.speech_lm import SpeechLM


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--limit", type=int, default=22)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--draft", default="mtp")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    lm = SpeechLM.load(args.run)
    texts = [json.loads(x)["text"] for x in Path(args.manifest).read_text().splitlines()][: args.limit]
    rows = {}
    for name, draft in (("plain greedy", None), (f"speculative ({args.draft} draft)", make_draft(lm, args.draft))):
        v = LMVoice(lm, draft=draft)
        v.codes("Warm up.")
        cpu_gen = cpu_all = audio = 0.0
        steps = passes = 0
        outs = []
        for t in texts:
            c0 = time.process_time()
            codes = []
            for s in v.sentences(t):
                codes.append(v.codes(s))
                steps += v.last_stats.get("steps", 0)
                passes += v.last_stats.get("forwards", 0)
            c1 = time.process_time()
            wav = np.concatenate([v.decode(c) for c in codes])
            c2 = time.process_time()
            cpu_gen += c1 - c0
            cpu_all += c2 - c0
            audio += len(wav) / v.sample_rate
            outs.append(np.concatenate(codes, axis=1))
        rows[name] = {"sentences": len(texts), "audio_s": round(audio, 2), "cpu_generate_s": round(cpu_gen, 2),
                      "cpu_total_s": round(cpu_all, 2), "x_realtime_generate": round(audio / cpu_gen, 1),
                      "x_realtime_total": round(audio / cpu_all, 1), "ar_steps": steps, "lm_passes": passes,
                      "_codes": outs}
    plain, spec = (rows[k].pop("_codes") for k in list(rows))
    result = {"run": str(args.run), "manifest": args.manifest, "threads": args.threads,
              "identical_codes": all(np.array_equal(a, b) for a, b in zip(plain, spec)), "rows": rows}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
