"""Choosing how the phone teacher shapes the first envelope stage, on the VALID split only.

For each variant (``joint``: k-means on [features ; w * teacher posteriors], encode by features;
``joint+teacher``: the same centroids, encode with the teacher too (``quant.semantic: teacher``:
the encoder runs the teacher); ``metric``: a per-frame linear student's Mahalanobis metric, fit
and encode, features only; not in the library, since it gained nothing)
and each relative weight ``w``, a cheap stage-1 fit (subsampled, few Lloyd iterations) and a
plain stage 2 on its residual, then on the valid split:

- ``phone_acc``: stage-1 units -> phone, with each unit's majority phone counted on the English
  train frames (pocketsphinx alignments) and scored on the English valid frames (held out, so
  2048 units are not rewarded for being many);
- ``pnmi`` / ``pnmi_chance`` of the stage-1 units on the English valid frames;
- ``teacher_acc``: the same held-out unit -> class mapping against the teacher's argmax, on all
  valid frames (every language);
- ``mse1`` / ``mse2``: feature error after 1 / 2 stages (no refiner);
- ``pesq_wb`` / ``stoi`` at 2 stages (pitch + 2 x 11 bits, no refiner) on ``--pesq`` valid
  utterances, rendered from the cached analysis.

    python benchmarks/sourcefilter/semantic_sweep.py --config configs/sourcefilter-25hz.yaml \\
        --run runs/sweep --weights 0 0.25 0.5 1 2 4 --out benchmarks/sourcefilter/semantic-sweep-25hz.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from speechtok.audio import load_audio
from speechtok.codec.sourcefilter.model import SourceFilterCodec
from speechtok.codec.sourcefilter.quantize import _nearest, kmeans
from speechtok.codec.sourcefilter.phonetic_stage import side_scale, teacher_cache
from speechtok.codec.sourcefilter.tokenizer import load_sf_config
from speechtok.codec.sourcefilter.train import analysis_cache
from speechtok.data.forced_align import phone_segments, read_alignments
from speechtok.data.manifest import read_manifest
from speechtok.data.phones import segments_to_frames
from speechtok.eval.metrics.perceptual import pesq_wb, stoi
from speechtok.eval.metrics.units import cluster_quality, heldout_unit_accuracy
from speechtok.eval.phonetic import default_alignment_cache


def student_metric(x: torch.Tensor, post: torch.Tensor, weight: float, ridge: float = 1e-3) -> torch.Tensor:
    """The ``metric`` variant's ``dim x dim`` matrix ``L``: stage 1 compares ``x L`` with ``c L``.

    ``W`` regresses the (centred) posteriors on the (centred) features (a per-frame linear
    student of the teacher); its output gets ``weight`` times the features' variance and
    ``L L^T = I + W W^T``, so ``|(x - c) L|^2 = |x - c|^2 + |(x - c) W|^2``: a Mahalanobis metric
    that stretches the directions that tell phones apart. Fit and encode need features only."""
    x = x.double() - x.double().mean(0)
    y = post.double() - post.double().mean(0)
    gram = x.T @ x
    W = torch.linalg.solve(gram + ridge * gram.trace() / len(gram) * torch.eye(len(gram), dtype=gram.dtype), x.T @ y)
    W = W * (weight * float(x.var(0).sum()) / max(float((x @ W).var(0).sum()), 1e-12)) ** 0.5
    return torch.linalg.cholesky(torch.eye(len(W), dtype=W.dtype) + W @ W.T).float()


def frame_labels(manifest: str, lengths: np.ndarray, frame_rate: float) -> np.ndarray:
    """Aligned phone id per frame of the concatenated manifest, -1 where there is no alignment."""
    rows = read_alignments(default_alignment_cache(manifest))
    out = []
    for u, n in zip(read_manifest(manifest), lengths):
        r = rows.get(u.id)
        ok = r is not None and not r.get("error") and r.get("phones")
        out.append(segments_to_frames(phone_segments(r), frame_rate, int(n)) if ok else np.full(int(n), -1))
    return np.concatenate(out).astype(np.int64)


def heldout_acc(units_tr, lab_tr, units_va, lab_va, k: int) -> float:
    return heldout_unit_accuracy(units_tr, lab_tr, units_va, lab_va)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/sourcefilter-25hz.yaml")
    ap.add_argument("--run", type=Path, default=Path("runs/sweep"), help="folder with (or for) cache/ and teacher/")
    ap.add_argument("--weights", type=float, nargs="+", default=[0, 0.25, 0.5, 1, 2, 4])
    ap.add_argument("--variants", nargs="+", default=["joint", "metric"])
    ap.add_argument("--iters", type=int, default=8)
    ap.add_argument("--subsample", type=int, default=60000, help="training frames per k-means fit")
    ap.add_argument("--pesq", type=int, default=20, help="valid utterances for PESQ/STOI")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_sf_config(args.config)
    codec = SourceFilterCodec(cfg.model)
    tr = analysis_cache(cfg, cfg.data.train, args.run / "cache")
    va = analysis_cache(cfg, cfg.data.valid, args.run / "cache")
    hop, K = cfg.model.hop, cfg.model.quant.codebook_size
    p_tr = torch.from_numpy(teacher_cache(cfg.data.train, args.run / "teacher", hop, tr.lengths))
    p_va = torch.from_numpy(teacher_cache(cfg.data.valid, args.run / "teacher", hop, va.lengths))
    codec.cep_mean.copy_(torch.from_numpy(tr.cep.reshape(len(tr), -1).mean(0)))
    codec.bap_mean.copy_(torch.from_numpy(tr.bap.mean(0)))
    x_tr, x_va = codec.features(tr), codec.features(va)
    lab_tr = frame_labels(cfg.data.train, tr.lengths, cfg.model.frame_rate)
    lab_va = frame_labels(cfg.data.valid, va.lengths, cfg.model.frame_rate)
    t_tr, t_va = p_tr.argmax(1).numpy(), p_va.argmax(1).numpy()
    g = torch.Generator().manual_seed(0)
    sub = torch.randperm(len(x_tr), generator=g)[: args.subsample]
    # PESQ utterances: every n-th of the valid split, with their frame ranges in the cache
    utts = read_manifest(cfg.data.valid)
    starts = np.concatenate([[0], np.cumsum(va.lengths)[:-1]])
    pick = list(range(0, len(utts), max(1, len(utts) // args.pesq)))[: args.pesq]
    refs = {i: load_audio(utts[i].path, cfg.model.sample_rate)[0] for i in pick}
    ev = lab_va >= 0
    print(f"train {len(x_tr)} frames ({int((lab_tr >= 0).sum())} aligned), valid {len(x_va)} ({int(ev.sum())} aligned)", flush=True)

    def measure(name, w, c1, a_tr, a_va, extra=None):
        t = time.time()
        res1_tr, res1_va = x_tr - c1[a_tr], x_va - c1[a_va]
        c2 = kmeans(res1_tr[sub], K, args.iters, seed=1)
        d2 = c2[_nearest(res1_va, c2)]
        deq = c1[a_va] + d2
        row = {"variant": name, "weight": w,
               "phone_acc": heldout_acc(a_tr.numpy(), lab_tr, a_va.numpy(), lab_va, K),
               "teacher_acc": heldout_acc(a_tr.numpy(), t_tr, a_va.numpy(), t_va, K),
               "pnmi": cluster_quality(lab_va[ev], a_va.numpy()[ev])["pnmi"],
               "pnmi_chance": cluster_quality(lab_va[ev], np.random.default_rng(0).permutation(a_va.numpy()[ev]))["pnmi"],
               "mse1": float((res1_va**2).mean()), "mse2": float(((x_va - deq) ** 2).mean()), **(extra or {})}
        scores = []
        for i in pick:
            s, n = int(starts[i]), int(va.lengths[i])
            f0 = codec.pitch.decode(codec.pitch.encode(va.f0[s : s + n]))
            y = codec.render(codec.unfeatures(f0, deq[s : s + n]), len(refs[i]))
            scores.append((pesq_wb(refs[i], y), stoi(refs[i], y)))
        row["pesq_wb"], row["stoi"] = (float(np.mean([sc[j] for sc in scores])) for j in (0, 1))
        row["seconds"] = round(time.time() - t, 1)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        return row

    rows = []
    for variant in args.variants:
        for w in args.weights:
            if w == 0 and variant != args.variants[0]:
                continue  # w = 0 is plain k-means in every variant
            t = time.time()
            if variant == "joint":
                f = side_scale(x_tr, p_tr, w) if w > 0 else 0.0
                side_tr, side_va = (p_tr * f, p_va * f) if w > 0 else (torch.zeros(len(x_tr), 0), torch.zeros(len(x_va), 0))
                cj = kmeans(torch.cat([x_tr, side_tr], 1)[sub], K, args.iters, seed=0)
                c1 = cj[:, : x_tr.shape[1]]
                fit_s = round(time.time() - t, 1)
                rows.append(measure("plain" if w == 0 else "joint", w, c1, _nearest(x_tr, c1), _nearest(x_va, c1), {"fit_seconds": fit_s}))
                if w > 0:
                    a_tr = _nearest(torch.cat([x_tr, side_tr], 1), cj)
                    a_va = _nearest(torch.cat([x_va, side_va], 1), cj)
                    rows.append(measure("joint+teacher", w, c1, a_tr, a_va))
            elif variant == "metric":
                L = student_metric(x_tr, p_tr, w)
                cz = kmeans((x_tr @ L)[sub], K, args.iters, seed=0)
                c1 = torch.linalg.solve(L.T, cz.T).T  # centroids back in feature space (L is invertible)
                fit_s = round(time.time() - t, 1)
                rows.append(measure("metric", w, c1, _nearest(x_tr @ L, cz), _nearest(x_va @ L, cz), {"fit_seconds": fit_s}))
            else:
                raise SystemExit(f"unknown variant {variant}")
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"config": args.config, "iters": args.iters, "subsample": args.subsample,
                                            "pesq_utterances": len(pick), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
