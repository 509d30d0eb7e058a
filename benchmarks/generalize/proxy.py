"""Cheap design choices for generalization, on the validation voices only: augmentation and
per-utterance envelope normalization, judged by the feature error small codebooks leave.

Each variant fits the same small residual k-means (256 x 2 stages, 8 iterations, 100k sampled
training frames) and reports the mean squared feature error it leaves on
  * valid-voices: held-out voices (fr_armelle, a real GSM voice, measured in its band; festival ked,
    festival Czech dita, espeak fr+f1), never in training;
  * asterisk valid: the in-domain validation split.
The test voices are not read. Usage (the analysis cache is shared with the training run):

    python benchmarks/generalize/proxy.py configs/sourcefilter-general-50hz.yaml --cache runs/general-50hz/cache \
        --out benchmarks/generalize/proxy.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from speechtok.codec.sourcefilter.analysis import Frames
from speechtok.codec.sourcefilter.augment import augment_frames
from speechtok.codec.sourcefilter.band import detect_band_limit
from speechtok.codec.sourcefilter.model import SourceFilterCodec
from speechtok.codec.sourcefilter.quantize import ResidualKMeans
from speechtok.codec.sourcefilter.tokenizer import load_sf_config
from speechtok.codec.sourcefilter.train import analysis_cache
from speechtok.audio import load_audio
from speechtok.data.manifest import read_manifest


def utterance_means(x: torch.Tensor, lengths, dims: int, order: int = 0, codec=None) -> torch.Tensor:
    """(N, D) -> (N, D): each frame's utterance mean of the first ``dims`` features (0 elsewhere).
    ``order`` > 0: the codec's quantized side mean instead (``codec.side_mean``: its first ``order``
    cepstral coefficients, shared by the envelope subframes)."""
    out = torch.zeros_like(x)
    s = 0
    for n in lengths:
        if order:
            out[s : s + n] = codec.dequantize_mean(codec.quantize_mean(x[s : s + n], order))
        else:
            out[s : s + n, :dims] = x[s : s + n, :dims].mean(0)
        s += n
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--only", nargs="*", help="run only these variants")
    ap.add_argument("--curve", action="store_true",
                    help="the shipped recipe (augmentation + normalization, 16-coefficient side mean) against the "
                    "number of training voices and of training frames, instead of the variants")
    args = ap.parse_args()
    torch.manual_seed(0)
    cfg = load_sf_config(args.config)
    codec = SourceFilterCodec(cfg.model)
    train = analysis_cache(cfg, cfg.data.train, Path(args.cache))
    valid = analysis_cache(cfg, cfg.data.valid, Path(args.cache))
    vutts = read_manifest(cfg.data.valid)
    # which valid utterance is which voice, and its band limit (the GSM voice is measured in band)
    voice_of, limits = [], []
    for u in vutts:
        voice_of.append(u.speaker if u.speaker in ("fr_armelle", "festival_ked", "festival_cs_dita", "espeak_fr+f1")
                        else "asterisk-valid")
        limits.append(detect_band_limit(load_audio(u.path, 16000)[0], 16000) if u.speaker == "fr_armelle" else None)
    codec.cep_mean.copy_(torch.from_numpy(train.cep.reshape(len(train), -1).mean(0)))
    codec.bap_mean.copy_(torch.from_numpy(train.bap.mean(0)))
    ncep = cfg.model.analysis.envelope_subframes * cfg.model.analysis.cep_order
    rng = np.random.default_rng(0)
    results = {}
    variants = {"plain": {}, "augment-0.5": {"augment": 0.5}, "utterance-mean-normalized": {"norm": True},
                "augment-0.5+normalized": {"augment": 0.5, "norm": True},
                "augment-0.5+normalized, side mean 16 coefficients quantized": {"augment": 0.5, "norm": True, "order": 16},
                "augment-0.5+normalized, side mean 8 coefficients quantized": {"augment": 0.5, "norm": True, "order": 8}}
    if args.only:
        variants = {k: v for k, v in variants.items() if k in args.only}
    if args.curve:  # voices in a fixed order: the three studio voices first, then the synthetic ones by name
        recipe = {"augment": 0.5, "norm": True, "order": 16}
        variants = {f"{n} voices": {**recipe, "voices": n} for n in (3, 8, 14, 24)}
        variants.update({f"{f} frames, 24 voices": {**recipe, "frames": f} for f in (25_000, 50_000, 200_000)})
    tutts = read_manifest(cfg.data.train)
    order = sorted({u.speaker for u in tutts}, key=lambda v: (v not in ("allison_smith", "june_wallack", "carlo_flora"), v))
    for name, v in variants.items():
        if args.curve:
            rng = np.random.default_rng(0)
        fr = train
        if v.get("augment"):
            fr = augment_frames(train, train.lengths, cfg.model.analysis.alpha, seed=0, fraction=v["augment"])
        x = codec.features(fr)
        if v.get("norm"):
            x = x - utterance_means(x, fr.lengths, ncep, v.get("order", 0), codec)
        pool = np.arange(len(x))
        if v.get("voices"):  # only the frames of the first N voices
            keep = set(order[: v["voices"]])
            owner = np.repeat([u.speaker in keep for u in tutts], fr.lengths)
            pool = pool[owner]
        pick = torch.from_numpy(np.sort(rng.choice(pool, min(v.get("frames", args.frames), len(pool)), replace=False)))
        rvq = ResidualKMeans(x.shape[1], args.size, 2)
        rvq.fit(x[pick], iters=8, seed=0)
        xv = codec.features(valid)
        if v.get("norm"):
            xv = xv - utterance_means(xv, valid.lengths, ncep, v.get("order", 0), codec)
        errs = defaultdict(list)
        s = 0
        for k, n in enumerate(valid.lengths):
            seg = xv[s : s + n]
            L = codec.metric(limits[k])
            deq = rvq.decode(rvq.encode(seg, metric=L))
            d = (deq - seg) if L is None else (deq - seg) @ L
            errs[voice_of[k]].append(float((d**2).sum(1).mean()) / seg.shape[1])
            s += n
        results[name] = {voice: round(float(np.mean(e)), 5) for voice, e in sorted(errs.items())}
        held = [results[name][k] for k in results[name] if k != "asterisk-valid"]
        results[name]["valid-voices mean"] = round(float(np.mean(held)), 5)
        print(name, results[name], flush=True)
    if Path(args.out).exists():  # keep the variants run before
        old = json.loads(Path(args.out).read_text())["results"]
        results = {**old, **results}
    Path(args.out).write_text(json.dumps({"frames": args.frames, "size": args.size, "stages": 2,
                                          "voice_order": order, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
