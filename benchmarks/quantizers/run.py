"""Rate-distortion of the quantizers in ``speechtok.quantizers`` on the source-filter codec's
envelope features (``speechtok-fast``: 2 x 24 warped cepstra + 5 aperiodicity bands per 20 ms
frame, 53 dims, the space its residual k-means works in).

Fitted on the frames of ``--train-utts`` utterances drawn (seeded) from data/speech/train.jsonl;
measured on the voices of data/speech/valid.jsonl that no training utterance has (held-out
voices). Each quantizer at each bit budget: feature MSE (per dimension, and relative to the
held-out variance), log-spectral distortion of the envelope (dB, on the 257 FFT bins),
code usage and perplexity per codebook, fit time on one thread. Nested quantizers (residual
stages) are fitted once with the most stages and measured at each prefix.

    benchmarks/quantizers/run.sh          # the committed results.md / results.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

import speechtok
from speechtok.audio import load_audio
from speechtok.codec.sourcefilter.envelope import matrices
from speechtok.data.manifest import read_manifest
from speechtok.quantizers import (BSQ, LFQ, MaskedResidualVQ, ResidualKMeansVQ, SEQuantizer, code_usage)

CODEBOOK_BITS = 11


def quefrency_masks(subframes: int, order: int, ap_bands: int, cuts=(0, 8, 16, 24)) -> list[torch.Tensor]:
    """MCRVQ masks by cepstral order: stage 1 the coarse envelope (c0..c7 of every subframe and the
    aperiodicity), stage 2 c8..c15, stage 3 c16..c23."""
    dim = subframes * order + ap_bands
    masks = []
    for g, (a, b) in enumerate(zip(cuts[:-1], cuts[1:])):
        m = torch.zeros(dim, dtype=torch.bool)
        for s in range(subframes):
            m[s * order + a : s * order + b] = True
        if g == 0:
            m[subframes * order :] = True
        masks.append(m)
    return masks


def variants(codec, graph_size: int, lfq_steps: int):
    """(row name, make(bits) -> quantizer, nested). Nested ones are made once for the top budget."""
    a = codec.cfg.analysis
    size = 2**CODEBOOK_BITS
    q_masks = quefrency_masks(a.envelope_subframes, a.cep_order, a.ap_bands)
    return [
        ("rkm (k-means VQ at 11 bits)", lambda b: ResidualKMeansVQ(size, b // CODEBOOK_BITS), True),
        ("rkm, k-means++ seeds only (no Lloyd steps; a control)", lambda b: ResidualKMeansVQ(size, b // CODEBOOK_BITS, iters=0), True),
        ("rkm, 5 Lloyd steps (a control for se + 5 k-means steps)", lambda b: ResidualKMeansVQ(size, b // CODEBOOK_BITS, iters=5), True),
        ("mcrvq, 3 contiguous channel thirds", lambda b: MaskedResidualVQ(size, b // CODEBOOK_BITS, masked=3), True),
        ("mcrvq, quefrency groups", lambda b: MaskedResidualVQ(size, b // CODEBOOK_BITS, masks=q_masks), True),
        ("mcrvq, coarse first stage only", lambda b: MaskedResidualVQ(size, b // CODEBOOK_BITS, masks=q_masks[:1]), True),
        ("lfq, pca", lambda b: LFQ(b, CODEBOOK_BITS, projection="pca"), False),
        ("lfq, itq", lambda b: LFQ(b, CODEBOOK_BITS, projection="itq"), False),
        (f"lfq, itq + {lfq_steps} trained steps", lambda b: LFQ(b, CODEBOOK_BITS, projection="itq", train_steps=lfq_steps), False),
        (f"bsq, itq + {lfq_steps} trained steps", lambda b: BSQ(b, CODEBOOK_BITS, projection="itq", train_steps=lfq_steps), False),
        ("se, entropy-chosen size", lambda b: SEQuantizer(size, b // CODEBOOK_BITS, graph_size), True),
        ("se, filled to 2048", lambda b: SEQuantizer(size, b // CODEBOOK_BITS, graph_size, fill=True), True),
        ("se, filled to 2048, graph encoding", lambda b: SEQuantizer(size, b // CODEBOOK_BITS, graph_size, fill=True, encode="graph"), True),
        ("se, filled + 5 k-means steps", lambda b: SEQuantizer(size, b // CODEBOOK_BITS, graph_size, fill=True, lloyd_iters=5), True),
    ]


def read_rows(path: str) -> list[dict]:
    return [{"path": u.path, "speaker": u.speaker} for u in read_manifest(path)]


def features(codec, rows: list[dict]) -> torch.Tensor:
    out = []
    for r in rows:
        wav, _ = load_audio(r["path"], codec.cfg.sample_rate)
        out.append(codec.features(codec.analyze(wav)))
    return torch.cat(out)


def lsd_db(x: torch.Tensor, y: torch.Tensor, codec) -> float:
    """Mean over envelope samples of the RMS (over FFT bins) difference of log amplitude, in dB."""
    a = codec.cfg.analysis
    n = a.envelope_subframes * a.cep_order
    _, synth = matrices(codec.cfg.synth.n_fft // 2 + 1, a.cep_order, a.alpha)
    d = (x[:, :n] - y[:, :n]).reshape(-1, a.cep_order) @ torch.from_numpy(synth)
    return float((20 / math.log(10) * d).pow(2).mean(1).sqrt().mean())


def measure(q, train: torch.Tensor, valid: torch.Tensor, codec, k: int | None, var: float) -> dict:
    t = time.perf_counter()
    codes = q.encode(valid, k)
    enc = time.perf_counter() - t
    rec = q.decode(codes)
    sizes = q.codebook_sizes[: codes.shape[0]]
    usage = code_usage(codes, sizes)
    mse = float(((rec - valid) ** 2).mean())
    return {"bits": round(sum(math.log2(s) for s in sizes), 3), "codebook_sizes": list(sizes),
            "mse_valid": mse, "relative_mse_valid": mse / var, "lsd_db_valid": lsd_db(valid, rec, codec),
            "mse_train": float(((q.decode(q.encode(train, k)) - train) ** 2).mean()),
            "used": [round(u["used"], 4) for u in usage], "perplexity": [round(u["perplexity"], 1) for u in usage],
            "entropy_bits": round(sum(u["entropy_bits"] for u in usage), 3),
            "encode_us_per_vector": 1e6 * enc / len(valid)}


def table(results: list[dict]) -> str:
    lines = ["| quantizer | budget | bits | feature MSE (rel.) | LSD dB | train MSE | used | perplexity | code entropy bits | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r["budget"], r["order"])):
        lines.append(f"| {r['quantizer']} | {r['budget']} | {r['bits']:.2f} | {r['mse_valid']:.4f} ({r['relative_mse_valid']:.3f}) | "
                     f"{r['lsd_db_valid']:.2f} | {r['mse_train']:.4f} | {' / '.join(f'{u:.2f}' for u in r['used'])} | "
                     f"{' / '.join(f'{p:.0f}' for p in r['perplexity'])} | {r['entropy_bits']:.1f} | "
                     f"{'—' if r['fit_seconds'] is None else format(r['fit_seconds'], '.0f')} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default="data/speech/train.jsonl")
    ap.add_argument("--valid", default="data/speech/valid.jsonl")
    ap.add_argument("--train-utts", type=int, default=300)
    ap.add_argument("--bits", type=int, nargs="+", default=[11, 22, 33])
    ap.add_argument("--graph-size", type=int, default=16000, help="vectors in each SE graph")
    ap.add_argument("--lfq-steps", type=int, default=300)
    ap.add_argument("--only", nargs="*", help="row names starting with these (default: all)")
    ap.add_argument("--redo", nargs="*", default=[],
                    help="recompute the rows whose names start with these; other rows already in "
                         "OUT/results.json (same settings) are kept, rows of names no longer made are dropped")
    ap.add_argument("--model", default="speechtok-fast")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/quantizers")
    args = ap.parse_args()
    torch.manual_seed(args.seed)

    codec = speechtok.load(args.model).codec
    train_rows = read_rows(args.train)
    seen = {r["speaker"] for r in train_rows}
    train_rows = random.Random(args.seed).sample(train_rows, min(args.train_utts, len(train_rows)))
    valid_rows = [r for r in read_rows(args.valid) if r["speaker"] not in seen]
    t = time.perf_counter()
    train, valid = features(codec, train_rows), features(codec, valid_rows)
    print(f"features: {len(train)} train frames ({len(train_rows)} utterances), {len(valid)} held-out frames "
          f"({len(valid_rows)} utterances, {len({r['speaker'] for r in valid_rows})} voices), {time.perf_counter() - t:.0f} s", flush=True)
    var = float(valid.var(0).mean())

    settings = {"model": args.model, "train_utterances": len(train_rows), "graph_size": args.graph_size,
                "lfq_steps": args.lfq_steps, "seed": args.seed}
    out = Path(args.out)
    rank = {n: i for i, (n, _, _) in enumerate(variants(codec, args.graph_size, args.lfq_steps))}
    rank[f"{args.model}'s own codebooks (its training data)"] = -1
    rank["rkm at the sizes the entropy chose (a control)"] = rank["se, entropy-chosen size"] + 0.5
    made = set(rank)
    results, kept = [], set()
    if (out / "results.json").is_file():
        old = json.loads((out / "results.json").read_text())
        if all(old["meta"].get(k) == v for k, v in settings.items()):
            results = [r for r in old["rows"] if r["quantizer"] in made and r["budget"] in args.bits
                       and not any(r["quantizer"].startswith(p) for p in args.redo)]
            kept = {r["quantizer"] for r in results}
            for r in results:  # rows in the order of the variants now
                r["order"] = rank[r["quantizer"]]
            if "se, entropy-chosen size" not in kept:  # its control is made with it
                results = [r for r in results if not r["quantizer"].startswith("rkm at the sizes")]

    meta = {**settings, "train_frames": len(train), "valid_utterances": len(valid_rows), "valid_frames": len(valid),
            "valid_voices": sorted({r["speaker"] for r in valid_rows}), "valid_variance_per_dim": var,
            "threads": torch.get_num_threads()}

    def write():
        """results.json and results.md from the rows so far (after every row: a killed run keeps them)."""
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps({"meta": meta, "rows": results}, indent=1) + "\n")
        md = [f"# Quantizers on `{args.model}` envelope features ({len(train)} training frames from "
              f"{len(train_rows)} utterances; {len(valid)} frames of {len(meta['valid_voices'])} held-out voices)", "",
              "Feature MSE is per dimension (relative: divided by the held-out variance per dimension, "
              f"{var:.4f}); LSD is the envelope's log-spectral distortion; used / perplexity per codebook "
              "on the held-out frames; fit s on one thread (nested rows share one fit). "
              "Written by `benchmarks/quantizers/run.py`.", "", table(results), ""]
        (out / "results.md").write_text("\n".join(md))

    def add(name, order, budget, q, k, fit_s, extra=None):
        r = {"quantizer": name, "order": order, "budget": budget, "fit_seconds": fit_s,
             **measure(q, train, valid, codec, k, var), **(extra or {})}
        results.append(r)
        write()
        print(f"{name} @ {budget}: bits {r['bits']:.2f} mse {r['mse_valid']:.4f} ({r['relative_mse_valid']:.3f}) "
              f"lsd {r['lsd_db_valid']:.2f} dB, perplexity {r['perplexity']}", flush=True)

    # the model's own codebooks: the same residual k-means, fitted by the codec's recipe on its
    # training data (speechtok-fast: the asterisk train split, 1.5 h of 3 voices)
    shipped = ResidualKMeansVQ(codec.rvq.codebook_size, codec.rvq.num_stages)
    shipped.codebooks = list(codec.rvq.codebooks.clone())
    own = f"{args.model}'s own codebooks (its training data)"
    for b in args.bits:
        if b // CODEBOOK_BITS <= shipped.stages and own not in kept and (not args.only or any(own.startswith(o) for o in args.only)):
            add(own, -1, b, shipped, b // CODEBOOK_BITS, None)

    top = max(args.bits)
    for order, (name, make, nested) in enumerate(variants(codec, args.graph_size, args.lfq_steps)):
        if (args.only and not any(name.startswith(o) for o in args.only)) or name in kept:
            continue
        fits = [(top, None)] if nested else [(b, b) for b in args.bits]
        for fit_bits, _ in fits:
            q = make(fit_bits)
            t = time.perf_counter()
            q.fit(train, seed=args.seed)
            fit_s = time.perf_counter() - t
            info = {"se_info": q.info} if isinstance(q, SEQuantizer) else None
            for b in (args.bits if nested else [fit_bits]):
                k = b // CODEBOOK_BITS if nested else None
                if nested and k > len(q.codebook_sizes):
                    continue
                add(name, order, b, q, k, fit_s, info)
            if isinstance(q, SEQuantizer) and not q.fill:  # k-means with the sizes the entropy chose
                km = ResidualKMeansVQ(list(q.codebook_sizes), len(q.codebook_sizes))
                t = time.perf_counter()
                km.fit(train, seed=args.seed)
                fit_s = time.perf_counter() - t
                for b in args.bits:
                    if b // CODEBOOK_BITS <= len(km.codebook_sizes):
                        add("rkm at the sizes the entropy chose (a control)", order + 0.5, b, km, b // CODEBOOK_BITS, fit_s)

    write()
    print(table(results))


if __name__ == "__main__":
    main()
