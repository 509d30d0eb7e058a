"""The low-latency mode's refiner: fine-tuned from the shipped one with its future taps cut.

    OMP_NUM_THREADS=1 python benchmarks/sourcefilter/causal_refiner.py --minutes 8 --save \
        --out benchmarks/sourcefilter/causal_refiner.json

The shipped refiner's convolutions (4 layers, kernel 5, centred) look 8 frames ahead: 160 ms
at 50 Hz, 320 ms at 25 Hz, far over the 80 ms the low-latency mode (``+lowlatency``,
``streaming.py``) allows. For each fast model this cuts the future taps of its refiner
(``Refiner.cut_from``) so that it looks ``lookahead`` frames ahead at most: 1 at 50 Hz (20 ms;
``speechtok-fast`` stays inside 80 ms), 0 at 25 Hz (``speechtok-fast-25hz`` is at 78 ms
without it); fine-tunes it for ``--minutes`` of one CPU thread on the train split (features of
the file-mode analysis, the shipped codebooks; ``train.fine_tune_low_latency_refiner``), keeping
the weights with the lowest error on the validation split (low-mode analysis); and scores the
low-mode codes of the validation split decoded without it, with it, and with the shipped
(non-streamable) refiner: feature error and PESQ-WB / STOI. ``--save`` writes it beside the
model (``lowlatency-refiner.safetensors``, tied to the model's weights by their digest).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import speechtok
from speechtok.audio import load_audio
from speechtok.codec.pretrained import MODELS_DIR
from speechtok.codec.sourcefilter.analysis import Frames
from speechtok.codec.sourcefilter.tokenizer import save_low_latency_refiner
from speechtok.codec.sourcefilter.train import fine_tune_low_latency_refiner
from speechtok.data.manifest import read_manifest
from speechtok.eval.metrics.perceptual import pesq_wb, stoi

MODELS = {"speechtok-fast@1.45kbps": 1, "speechtok-fast-25hz@0.725kbps": 0}  # model -> frames of look-ahead


def frames_of(codec, wavs, latency: str) -> Frames:
    frs = codec.analyze_many(wavs, latency)
    fr = Frames(*(np.concatenate([getattr(f, k) for f in frs]) for k in ("f0", "cep", "bap")))
    fr.lengths = np.array([len(f) for f in frs])  # type: ignore[attr-defined]
    return fr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default="data/asterisk/train.jsonl")
    ap.add_argument("--valid", default="data/asterisk/valid.jsonl")
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--save", action="store_true", help="write lowlatency-refiner.safetensors into each model's folder")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/sourcefilter/causal_refiner.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    train_wavs = [load_audio(u.path, 16000)[0] for u in read_manifest(args.train)]
    valid_wavs = [load_audio(u.path, 16000)[0] for u in read_manifest(args.valid)]
    out = {"train": args.train, "valid": args.valid, "minutes": args.minutes, "threads": 1, "models": {}}
    for name in args.models:
        tok = speechtok.load(name)
        codec, stages, look = tok.codec, tok.stages, MODELS[name]
        codec.set_low_latency_refiner(None)  # whatever ships: this run makes it anew
        t0 = time.time()
        train_fr, valid_fr = frames_of(codec, train_wavs, "file"), frames_of(codec, valid_wavs, "low")
        print(name, f"analysis {time.time() - t0:.0f} s", flush=True)
        refiner, log = fine_tune_low_latency_refiner(codec, train_fr, valid_fr, look, args.minutes, progress=False)
        res = out["models"][name] = {"lookahead_frames": look, "lookahead_ms": 1000 * look / codec.cfg.frame_rate,
                                     "fine_tuning": {k: v for k, v in log.items() if k != "curve"},
                                     "valid_mse_at_start": log["curve"][0]["valid_mse_per_stage"]}
        scores: dict[str, list] = {}
        for x in valid_wavs:
            codes = codec.encode(x, stages, "low")
            f0, pitch = codec.pitch.decode(codes[0]), torch.from_numpy(codes[0])
            feats = codec.rvq.decode(torch.from_numpy(codes[1:]))
            variants = {"low mode without a refiner": feats,
                        f"low mode + its refiner ({look} frame look-ahead)": refiner.correct(feats, pitch, stages),
                        "low analysis + the shipped refiner (8 frames ahead; not streamable)": codec.refiner.correct(feats, pitch, stages)}
            for k, v in variants.items():
                y = codec.render(codec.unfeatures(f0, v), len(x))
                scores.setdefault(k, []).append((pesq_wb(x, y), stoi(x, y)))
        # pystoi gives 1e-5 for utterances too short for it: STOI averages the others
        ok = np.array([b > 1e-4 for _, b in scores["low mode without a refiner"]])
        res["quality"] = {k: {"pesq_wb": round(float(np.mean([a for a, _ in v])), 3),
                              "stoi": round(float(np.mean(np.array([b for _, b in v])[ok])), 4)}
                          for k, v in scores.items()}
        res["utterances"], res["stoi_utterances"] = len(ok), int(ok.sum())
        print(name, json.dumps(res, indent=1), flush=True)
        if args.save:
            base = name.split("@")[0]
            path = save_low_latency_refiner(refiner, MODELS_DIR / base, tok.model_id, {
                "made_by": "benchmarks/sourcefilter/causal_refiner.py", "minutes": args.minutes,
                "steps": log["steps"], "kept_step": log["kept_step"]})
            res["saved"] = str(path.relative_to(MODELS_DIR.parent.parent.parent))
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
