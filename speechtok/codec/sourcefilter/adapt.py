"""Adapting a trained source-filter codec to one user's voice in minutes, on a CPU.

``speechtok train --init speechtok-fast --data my.jsonl`` runs ``adapt``:

1. the user's recordings are analysed (the same cached, resumable analysis as training) and split
   by a seeded hash of the ids into adaptation (90 %) and held-out (10 %) utterances;
2. the codebooks are MAP-adapted, stage by stage (as speaker adaptation of a GMM-UBM is done):
   each codeword moves towards the mean of the user's vectors it quantizes, by
   ``n / (n + relevance)`` of the way, where ``n`` is how many of them it took. Codewords the
   voice never uses stay where they were, so other voices keep most of their quality;
3. the refiner is trained further on the user's frames for the remaining minutes (at a lower
   learning rate), and the weights with the lowest held-out error are kept;
4. the run folder holds the adapted model (a tokenizer like any run folder) and
   ``adaptation.json``: the held-out feature error before and after.

The feature means (``cep_mean``, ``bap_mean``) are not changed: every codebook is relative to them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from ...errors import SpeechtokError
from ...fsutil import write_atomic
from .analysis import Frames
from .model import SourceFilterCodec
from .quantize import _nearest


@torch.no_grad()
def map_adapt_codebooks(codec: SourceFilterCodec, fr: Frames, relevance: float = 16.0, iters: int = 4) -> list[float]:
    """MAP adaptation of every envelope stage to the frames ``fr`` (in place). Returns the
    adaptation frames' error left after each stage."""
    if codec.rvq.side_dim:
        raise SpeechtokError("a codec whose first stage is encoded with a phone teacher cannot be adapted this way")
    from .train import normalized_features

    x = normalized_features(codec, fr)
    residual = x.clone()
    errors = []
    for s in range(codec.rvq.num_stages):
        prior = codec.rvq.codebooks[s].clone()
        c = prior.clone()
        for _ in range(iters):
            a = _nearest(residual, c)
            sums = torch.zeros_like(c).index_add_(0, a, residual)
            n = torch.bincount(a, minlength=len(c)).to(c.dtype)[:, None]
            c = (sums + relevance * prior) / (n + relevance)
        codec.rvq.codebooks[s] = c
        residual = residual - c[_nearest(residual, c)]
        errors.append(float((residual**2).mean()))
    return errors


def split_ids(ids, seed: int = 0, held_out: float = 0.1) -> tuple[list[int], list[int]]:
    """Indices of the adaptation and held-out utterances (seeded hash of the ids; at least one
    of each when there are two or more)."""
    from ...data.asterisk import _unit_hash

    h = [_unit_hash(i, seed) for i in ids]
    out = [k for k, x in enumerate(h) if x < held_out]
    if not out and len(ids) > 1:
        out = [int(np.argmin(h))]
    keep = [k for k in range(len(ids)) if k not in set(out)]
    if not keep:
        raise SpeechtokError("adaptation needs at least two recordings (one is held out to measure it)")
    return keep, out


def adapt(init: str, data: str, run_dir: Path, minutes: float = 10.0, relevance: float = 16.0, seed: int = 0,
          workers: int = 1, progress: bool = True, refiner_steps: int = 0) -> dict:
    """Adapt the source-filter model ``init`` (a shipped name or a run folder) to the recordings of
    the manifest ``data``; write the adapted run folder to ``run_dir``. ``minutes`` bounds the whole
    job (the refiner gets what analysis and codebooks leave); ``refiner_steps`` > 0 fixes its
    steps instead (tests, exact runs). Returns the report (also in ``adaptation.json``)."""
    from dataclasses import replace

    from ...data.manifest import read_manifest, write_manifest
    from ...tokenizers.registry import load
    from .config import SFData
    from .tokenizer import SourceFilterTokenizer, read_sf_run, save_sf_run
    from .train import analysis_cache, refiner_mse, train_refiner, _refiner_tensors

    t0 = time.time()
    tok = load(init)
    if not isinstance(tok, SourceFilterTokenizer):
        raise SpeechtokError(f"{init}: --init needs a source-filter model (speechtok-fast, speechtok-base, a run folder)")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    utts = read_manifest(data)
    keep, held = split_ids([u.id for u in utts], seed)
    write_manifest(run_dir / "adapt-train.jsonl", [utts[k] for k in keep])
    write_manifest(run_dir / "adapt-valid.jsonl", [utts[k] for k in held])
    # the model's own config, with this run's data and budget
    src_dir = Path(init) if Path(init).is_dir() else None
    if src_dir is None:
        from ..pretrained import MODELS_DIR

        src_dir = MODELS_DIR / str(init).split("@")[0]
    codec, cfg, _ = read_sf_run(src_dir)
    cfg.data = SFData(str(run_dir / "adapt-train.jsonl"), str(run_dir / "adapt-valid.jsonl"))
    cfg.train = replace(cfg.train, workers=workers, seed=seed, refiner_lr=cfg.train.refiner_lr * 0.3, valid_every=100,
                        refiner_steps=refiner_steps, augment_fraction=0.0)
    train_fr = analysis_cache(cfg, cfg.data.train, run_dir / "cache", progress)
    valid_fr = analysis_cache(cfg, cfg.data.valid, run_dir / "cache", progress)
    valid = _refiner_tensors(codec, valid_fr)
    refined = cfg.model.refiner.enabled
    before = refiner_mse(codec, valid, refine=refined)
    errs = map_adapt_codebooks(codec, train_fr, relevance)
    valid = _refiner_tensors(codec, valid_fr)
    after_codebooks = refiner_mse(codec, valid, refine=refined)
    report = {"init": init, "data": str(data), "adapt_utterances": len(keep), "held_out_utterances": len(held),
              "relevance": relevance, "train_mse_per_stage": errs, "valid_mse_before": before,
              "valid_mse_codebooks": after_codebooks}
    spent = (time.time() - t0) / 60
    left = minutes - spent
    if refined and (refiner_steps > 0 or left > 0.2):
        cfg.train.refiner_minutes = max(left - 0.1, 0.0)
        (run_dir / "refiner.ckpt").unlink(missing_ok=True)  # a fresh optimizer; the weights come from the model
        log = train_refiner(codec, train_fr, cfg, run_dir, progress, valid)
        report["refiner"] = {"steps": log["steps"], "kept_step": log["kept_step"]}
    report["valid_mse_after"] = refiner_mse(codec, valid, refine=refined)
    report["minutes"] = round((time.time() - t0) / 60, 2)
    cfg.name = f"{tok.name.split('@')[0]}-adapted"
    save_sf_run(codec, cfg, run_dir)
    read_sf_run(run_dir)
    write_atomic(run_dir / "adaptation.json", lambda p: p.write_text(json.dumps(report, indent=1)))
    return report
