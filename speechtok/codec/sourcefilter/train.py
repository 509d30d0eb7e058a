"""Training the source-filter codec: analysis cache -> k-means codebooks -> refiner -> run folder.

Every step is resumable: the analysis of the training audio is cached in ``RUN/cache`` in
shards (a killed job redoes at most one shard), the codebooks are saved once fitted, and the
refiner checkpoints every few hundred steps (on the shared training engine, ``train/engine.py``).
``run_training(cfg, run_dir)`` is what ``speechtok train configs/sourcefilter-*.yaml`` calls.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ...audio import load_audio
from ...data.manifest import read_manifest
from ...errors import SpeechtokError
from ...fsutil import write_atomic
from ...train.engine import (Budget, after_step, make_fabric, progress_bar, restore_rng, rng_state, save_fabric_checkpoint,
                             unwrap)
from .analysis import Frames
from .config import SHARD, SFData, SFRunConfig, SFTrainConfig, SourceFilterConfig  # noqa: F401  (SFData, SFTrainConfig: their old home)
from .model import SourceFilterCodec

def _analyze_one(args):
    cfg, path = args
    torch.set_num_threads(1)
    codec = SourceFilterCodec(cfg)
    wav, _ = load_audio(path, cfg.sample_rate)
    fr = codec.analyze(wav)
    return fr.f0, fr.cep, fr.bap


def analysis_cache(cfg: SFRunConfig, manifest: str, cache: Path, progress: bool = True) -> Frames:
    """Frames of every utterance of ``manifest``, concatenated; computed once, cached by shard."""
    utts = read_manifest(manifest)
    if not utts:
        raise SpeechtokError(f"{manifest}: the manifest lists no audio")
    cache.mkdir(parents=True, exist_ok=True)
    # the cache is only valid for the analysis settings that made it
    from dataclasses import asdict

    key = json.dumps({"analysis": asdict(cfg.model.analysis), "hop": cfg.model.hop, "sr": cfg.model.sample_rate}, sort_keys=True)
    key_file = cache / "analysis.json"
    if key_file.exists() and key_file.read_text() != key:
        raise SpeechtokError(f"{cache}: analysis cache made with other settings ({key_file}); delete the folder or use another --out")
    if not key_file.exists():
        write_atomic(key_file, lambda p: p.write_text(key))
    n_shards = math.ceil(len(utts) / SHARD)
    parts, lengths = [], []
    bar = tqdm(total=len(utts), desc=f"analysing {Path(manifest).name}", unit="utt", disable=not progress)
    pool = None
    for s in range(n_shards):
        f = cache / f"{Path(manifest).stem}-{s:04d}.npz"
        batch = utts[s * SHARD : (s + 1) * SHARD]
        if not f.exists():
            jobs = [(cfg.model, u.path) for u in batch]
            if cfg.train.workers > 1:
                if pool is None:
                    import multiprocessing as mp

                    pool = mp.get_context("spawn").Pool(cfg.train.workers)
                out = pool.map(_analyze_one, jobs)
            else:
                out = [_analyze_one(j) for j in jobs]
            lens = np.array([len(o[0]) for o in out])
            write_atomic(f, lambda p: np.savez(open(p, "wb"), f0=np.concatenate([o[0] for o in out]),
                                               cep=np.concatenate([o[1] for o in out]),
                                               bap=np.concatenate([o[2] for o in out]), lengths=lens))
        z = np.load(f)
        parts.append(Frames(z["f0"], z["cep"], z["bap"]))
        lengths.extend(z["lengths"].tolist())
        bar.update(len(batch))
    bar.close()
    if pool is not None:
        pool.close()
    fr = Frames(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("f0", "cep", "bap")))
    fr.lengths = np.array(lengths)  # type: ignore[attr-defined]
    return fr


def fit_codebooks(codec: SourceFilterCodec, fr: Frames, progress: bool = True, teacher: np.ndarray | None = None,
                  max_frames: int = 0, seed: int = 0) -> list[float]:
    """Feature means, then the residual k-means stages. Returns the error left after each stage.

    ``teacher``: phone posteriors of every frame (``phonetic_stage.teacher_cache``), needed when
    ``quant.semantic`` is not ``none``: they shape the first stage. ``max_frames`` > 0: the
    k-means sees a seeded sample of that many frames (the means are taken over all)."""
    codec.cep_mean.copy_(torch.from_numpy(fr.cep.reshape(len(fr), -1).mean(0)))
    codec.bap_mean.copy_(torch.from_numpy(fr.bap.mean(0)))
    x = normalized_features(codec, fr)
    if 0 < max_frames < len(x):
        pick = np.sort(np.random.default_rng(seed).choice(len(x), max_frames, replace=False))
        x = x[torch.from_numpy(pick)]
        teacher = teacher[pick] if teacher is not None else None
    q = codec.cfg.quant
    side = None
    if q.semantic != "none":
        from .phonetic_stage import side_scale

        if teacher is None or len(teacher) != len(x):
            raise SpeechtokError(f"quant.semantic {q.semantic}: fit_codebooks needs the teacher's posteriors of every frame")
        post = torch.as_tensor(teacher, dtype=torch.float32)
        scale = side_scale(x, post, q.semantic_weight)
        side = post * scale
        if codec.teacher is not None:
            codec.teacher.scale.fill_(scale)
    bar = tqdm(total=codec.rvq.num_stages, desc="k-means stages", disable=not progress)

    def step(s, err):
        bar.update(1)
        bar.set_postfix(mse=f"{err:.4f}")

    errors = codec.rvq.fit(x, iters=q.kmeans_iters, seed=0, progress=step, side=side)
    bar.close()
    return errors


def normalized_features(codec: SourceFilterCodec, fr: Frames) -> torch.Tensor:
    """The features the codebooks see: for a model with ``quant.normalize: utterance``, each
    utterance (``fr.lengths``) minus its quantized side mean, as encoding does."""
    x = codec.features(fr)
    if not codec.normalized:
        return x
    s = 0
    for n in np.asarray(fr.lengths, int):
        x[s : s + n] -= codec.dequantize_mean(codec.quantize_mean(x[s : s + n]))
        s += n
    return x


# ---- the refiner ------------------------------------------------------------------------------
def _refiner_tensors(codec: SourceFilterCodec, fr: Frames, teacher: np.ndarray | None = None):
    """Targets (N, D), pitch codes (N,), envelope codes (stages, N), utterance starts.
    ``teacher``: the frames' teacher posteriors, for a codec that encodes with its teacher."""
    x = normalized_features(codec, fr)
    side = None
    if codec.teacher is not None:
        if teacher is None:
            raise SpeechtokError("this codec encodes with its phone teacher: pass the teacher's posteriors")
        side = torch.as_tensor(teacher, dtype=torch.float32) * codec.teacher.scale
    codes = codec.rvq.encode(x, side=side)
    pitch = torch.from_numpy(codec.pitch.encode(fr.f0))
    starts = np.concatenate([[0], np.cumsum(fr.lengths)[:-1]])
    return x, pitch, codes, starts


def _dequant(codec: SourceFilterCodec, codes: torch.Tensor, k: int) -> torch.Tensor:
    return codec.rvq.decode(codes[:k])


def refiner_mse(codec: SourceFilterCodec, data, refine: bool) -> list[float]:
    """Mean squared feature error per number of stages, with or without the refiner."""
    x, pitch, codes, starts = data
    ends = list(starts[1:]) + [len(x)]
    out = []
    for k in range(1, codec.rvq.num_stages + 1):
        err, n = 0.0, 0
        deq = _dequant(codec, codes, k)
        for s, e in zip(starts, ends):
            y = codec.refiner.correct(deq[s:e], pitch[s:e], k) if refine else deq[s:e]
            err += float(((y - x[s:e]) ** 2).sum())
            n += (e - s) * x.shape[1]
        out.append(err / max(n, 1))
    return out


def _batch(data, codebooks: torch.Tensor, rng: np.random.Generator, batch: int, seg: int, stages: int):
    """Random segments of ``seg`` frames (from the concatenated training frames), each dequantized
    with a random number of stages: (dequantized, pitch codes, stages, targets)."""
    x, pitch, codes, _ = data
    idx = rng.integers(0, max(1, len(x) - seg), batch)
    ks = rng.integers(1, stages + 1, batch)
    sel = torch.from_numpy(idx[:, None] + np.arange(seg)[None, :])
    deq = torch.stack([_decode_rows(codebooks, codes, sel[b], int(ks[b])) for b in range(batch)])
    return deq, pitch[sel], torch.from_numpy(ks), x[sel]


def _decode_rows(codebooks: torch.Tensor, codes: torch.Tensor, rows: torch.Tensor, k: int) -> torch.Tensor:
    """The first ``k`` stages' vectors summed, for the frames ``rows``."""
    out = torch.zeros(len(rows), codebooks.shape[2])
    for s in range(k):
        out += codebooks[s][codes[s, rows]]
    return out


class RefinerTrainer:
    """The refiner's training loop on the shared engine (``train/engine.py``: Fabric, the atomic
    checkpoint, the time budget, the after-step sequence), run in every process (Fabric all-reduces
    the gradients): a trainer with ``step``, ``fabric``, ``save_checkpoint()`` and ``validate()``.

    The refiner's own: each step's batch is a function of (seed, rank, step) alone, so a resumed run
    draws the batches an uninterrupted one would (exact resume: tested by killing a run); it stops
    after ``train.refiner_steps`` steps, or else ``train.refiner_minutes`` of wall time counting the
    minutes already spent; ``RUN/refiner.ckpt`` holds ``model``, ``opt``, ``step``, ``elapsed``
    (seconds), ``rng`` and ``best``. With ``valid_data``, rank 0 appends ``(step, minutes,
    validation error per stage)`` to ``curve`` every ``valid_every`` steps: the quality-against-
    CPU-minutes curve; the weights with the lowest mean validation error so far are kept in the
    checkpoint (``best``), since a small refiner on 1.5 h of audio starts to overfit after a few
    thousand steps."""

    def __init__(self, fabric, codec: SourceFilterCodec, train_data, cfg: SFRunConfig, run_dir: Path, progress: bool,
                 valid_data=None, curve: list | None = None):
        self.fabric, self.codec, self.data, self.cfg, self.progress = fabric, codec, train_data, cfg, progress
        self.valid, self.curve = valid_data, curve
        self.model, self.opt = fabric.setup(codec.refiner, torch.optim.AdamW(codec.refiner.parameters(), lr=cfg.train.refiner_lr))
        self.ckpt_path = Path(run_dir) / "refiner.ckpt"
        self.step, self.saved_step, self.elapsed, self.best = 0, None, 0.0, None
        self.budget = Budget()
        self.losses: list[float] = []

    def resume(self) -> bool:
        """Weights, optimizer, step, the time already spent and the best weights, from ``refiner.ckpt``."""
        if not self.ckpt_path.exists():
            return False
        rest = self.fabric.load(self.ckpt_path, {"model": self.model, "opt": self.opt})
        self.step = self.saved_step = int(rest["step"])
        self.elapsed, self.best = float(rest["elapsed"]), rest.get("best")
        restore_rng(rest.get("rng") or {})
        return True

    def save_checkpoint(self) -> None:
        state = {"model": self.model, "opt": self.opt, "step": self.step, "elapsed": self.budget.wall(), "rng": rng_state()}
        if self.best is not None:
            state["best"] = self.best
        save_fabric_checkpoint(self.fabric, self.ckpt_path, state, lambda: None)
        self.saved_step = self.step

    def validate(self) -> dict:
        """A point of the curve; the weights, when their mean error is the lowest so far."""
        if self.valid is None or self.curve is None:
            return {}
        errs = refiner_mse(self.codec, self.valid, refine=True)
        self.curve.append({"step": self.step, "minutes": round(self.budget.wall() / 60, 2), "valid_mse_per_stage": errs})
        if self.best is None or float(np.mean(errs)) < float(self.best["valid_mse"]):
            self.best = {"valid_mse": torch.tensor(float(np.mean(errs))), "step": torch.tensor(self.step),
                         "model": {k: v.detach().clone() for k, v in unwrap(self.model).state_dict().items()}}
        return {}

    def fit(self) -> int:
        t, fabric = self.cfg.train, self.fabric
        if t.refiner_steps > 0:
            self.budget = Budget(max_steps=t.refiner_steps, wall_seconds=self.elapsed)
        else:
            self.budget = Budget(max_minutes=t.refiner_minutes, wall_seconds=self.elapsed)
        bar = progress_bar(fabric, self.progress, desc="refiner", unit="step", initial=self.step)
        # a resumed run whose budget is spent takes no step, nor does one given neither steps nor minutes
        reason = self.budget.spent(fabric, self.step) if t.refiner_steps > 0 or t.refiner_minutes > 0 else "no budget"
        while not reason:
            rng = np.random.default_rng((t.seed, fabric.global_rank, self.step))
            deq, p, ks, target = _batch(self.data, self.codec.rvq.codebooks, rng, t.refiner_batch, t.refiner_segment,
                                        self.codec.rvq.num_stages)
            loss = torch.nn.functional.mse_loss(self.model(deq, p, ks), target)
            self.opt.zero_grad()
            fabric.backward(loss)
            self.opt.step()
            self.step += 1
            self.losses.append(float(loss.detach()))
            bar.update(1)
            if self.step % 50 == 0:
                bar.set_postfix(loss=f"{np.mean(self.losses[-50:]):.4f}")
            reason = after_step(self, t, bar, self.budget, last=None, announce=False)
        bar.close()
        if self.saved_step != self.step:
            self.save_checkpoint()
        return self.step


def _refiner_worker(fabric, codec: SourceFilterCodec, train_data, cfg: SFRunConfig, run_dir: Path, progress: bool,
                    valid_data=None, curve: list | None = None):
    """Train (or continue, from ``RUN/refiner.ckpt``) the refiner in this process: (steps, losses)."""
    trainer = RefinerTrainer(fabric, codec, train_data, cfg, run_dir, progress, valid_data, curve)
    trainer.resume()
    trainer.fit()
    return trainer.step, trainer.losses


def train_refiner(codec: SourceFilterCodec, train_fr: Frames, cfg: SFRunConfig, run_dir: Path, progress: bool = True,
                  valid=None, teacher: np.ndarray | None = None) -> dict:
    """Train the refiner for ``train.refiner_minutes`` on ``train.devices`` processes; returns its log."""
    t = cfg.train
    data = _refiner_tensors(codec, train_fr, teacher)
    fabric = make_fabric(t, None, strategy="ddp" if t.devices > 1 else "auto", num_nodes=1, precision="32-true",
                         num_threads=0)
    curve: list = []
    step, losses = _refiner_worker(fabric, codec, data, cfg, run_dir, progress, valid, curve)
    state = torch.load(run_dir / "refiner.ckpt", weights_only=True)
    best = state.get("best")
    # the weights with the lowest validation error (the last ones when validation never ran)
    codec.refiner.load_state_dict(best["model"] if best is not None else state["model"])
    return {"steps": step, "final_loss": float(np.mean(losses[-100:])) if losses else None, "rank": fabric.global_rank,
            "curve": curve, "kept_step": int(best["step"]) if best is not None else step}


def fine_tune_low_latency_refiner(codec: SourceFilterCodec, train_fr: Frames, valid_fr: Frames, lookahead: int,
                                  minutes: float, seed: int = 0, lr: float = 3e-4, batch: int = 16, seg: int = 100,
                                  valid_every: int = 200, progress: bool = True):
    """The low-latency mode's refiner: ``codec.refiner`` with its future taps cut to look at most
    ``lookahead`` frames ahead (``Refiner.cut_from``), fine-tuned for ``minutes`` on one process
    against the unquantized features of ``train_fr`` (with ``lengths``); the weights with the
    lowest mean error on ``valid_fr`` (low-mode analysis of the validation split) are kept.
    Returns (refiner, log)."""
    from .refine import Refiner

    torch.manual_seed(seed)
    model = Refiner.cut_from(codec.refiner, lookahead)
    train, valid = _refiner_tensors(codec, train_fr), _refiner_tensors(codec, valid_fr)

    def valid_mse(m) -> list[float]:
        keep, codec.refiner = codec.refiner, m
        try:
            return refiner_mse(codec, valid, refine=True)
        finally:
            codec.refiner = keep

    model.eval()
    curve = [{"step": 0, "minutes": 0.0, "valid_mse_per_stage": valid_mse(model)}]
    best = (float(np.mean(curve[0]["valid_mse_per_stage"])), {k: v.clone() for k, v in model.state_dict().items()}, 0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    start, step = time.time(), 0
    bar = tqdm(desc="low-latency refiner", unit="step", disable=not progress)
    while time.time() - start < minutes * 60:
        model.train()
        deq, p, ks, target = _batch(train, codec.rvq.codebooks, rng, batch, seg, codec.rvq.num_stages)
        loss = torch.nn.functional.mse_loss(model(deq, p, ks), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if step % valid_every == 0:
            model.eval()
            errs = valid_mse(model)
            curve.append({"step": step, "minutes": round((time.time() - start) / 60, 2), "valid_mse_per_stage": errs})
            if float(np.mean(errs)) < best[0]:
                best = (float(np.mean(errs)), {k: v.clone() for k, v in model.state_dict().items()}, step)
    bar.close()
    model.load_state_dict(best[1])
    model.eval()
    return model, {"lookahead": lookahead, "steps": step, "kept_step": best[2], "minutes": minutes,
                   "valid_mse_per_stage": valid_mse(model), "curve": curve}


# ---- the whole recipe -----------------------------------------------------------------------------
def run_training(cfg: SFRunConfig, run_dir: Path, progress: bool = True) -> dict:
    """Analysis cache -> codebooks -> (refiner) -> run folder. Resumable at every stage."""
    from .tokenizer import read_sf_run, save_sf_run

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    report_path = run_dir / "training.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    t0 = time.time()
    train_fr = analysis_cache(cfg, cfg.data.train, run_dir / "cache", progress)
    valid_fr = analysis_cache(cfg, cfg.data.valid, run_dir / "cache", progress)
    report["analysis_minutes"] = report.get("analysis_minutes") or round((time.time() - t0) / 60, 2)
    t = cfg.train
    if t.augment_fraction > 0:
        from .augment import augment_frames

        train_fr = augment_frames(train_fr, train_fr.lengths, cfg.model.analysis.alpha, seed=t.seed,
                                  warp=t.augment_warp, pitch=t.augment_pitch, level_db=t.augment_level_db,
                                  fraction=t.augment_fraction)
    codebooks_done = run_dir / "codebooks.safetensors"
    torch.manual_seed(cfg.train.seed)  # the refiner's initial weights: a run is a function of its config
    codec = SourceFilterCodec(cfg.model)
    teacher = valid_teacher = None
    if cfg.model.quant.semantic != "none":
        from .phonetic_stage import load_teacher, teacher_cache

        t1 = time.time()
        net, digest = load_teacher(cfg.train.semantic_teacher)
        if codec.teacher is not None:
            codec.teacher.adopt(net, 0.0)  # its scale comes with the codebooks
        teacher = teacher_cache(cfg.data.train, run_dir / "teacher", cfg.model.hop, train_fr.lengths,
                                cfg.train.semantic_teacher, cfg.model.sample_rate, progress)
        if codec.teacher is not None:
            valid_teacher = teacher_cache(cfg.data.valid, run_dir / "teacher", cfg.model.hop, valid_fr.lengths,
                                          cfg.train.semantic_teacher, cfg.model.sample_rate, progress)
        report["semantic"] = {"variant": cfg.model.quant.semantic, "weight": cfg.model.quant.semantic_weight,
                              "teacher": cfg.train.semantic_teacher or "speechtok/assets/phone_ctc", "teacher_weights": digest,
                              "teacher_minutes": report.get("semantic", {}).get("teacher_minutes") or round((time.time() - t1) / 60, 2)}
    if codebooks_done.exists():
        from safetensors.torch import load_file

        codec.load_state_dict(load_file(str(codebooks_done)), strict=False)
    else:
        t1 = time.time()
        errs = fit_codebooks(codec, train_fr, progress, teacher, max_frames=t.kmeans_max_frames, seed=t.seed)
        from safetensors.torch import save_file

        state = {k: v.contiguous() for k, v in codec.state_dict().items() if not k.startswith("refiner.")}
        write_atomic(codebooks_done, lambda p: save_file(state, str(p)))
        report["kmeans_minutes"] = round((time.time() - t1) / 60, 2)
        report["train_mse_per_stage"] = errs
    valid = _refiner_tensors(codec, valid_fr, valid_teacher)
    report["valid_mse_per_stage"] = refiner_mse(codec, valid, refine=False)
    cfg.model.refiner.enabled = False
    if cfg.train.refiner_minutes > 0 or cfg.train.refiner_steps > 0:
        t2 = time.time()
        log = train_refiner(codec, train_fr, cfg, run_dir, progress, valid, teacher)
        if log["rank"] != 0:
            return report
        refined = refiner_mse(codec, valid, refine=True)
        plain = report["valid_mse_per_stage"]
        # used only where it measurably helps: at least 2% lower error at every rate
        cfg.model.refiner.enabled = all(r < 0.98 * p for r, p in zip(refined, plain))
        report["refiner"] = {**log, "valid_mse_per_stage": refined, "enabled": cfg.model.refiner.enabled,
                             "minutes": round((time.time() - t2) / 60, 2)}
    save_sf_run(codec, cfg, run_dir)
    read_sf_run(run_dir)  # the folder loads
    write_atomic(report_path, lambda p: p.write_text(json.dumps(report, indent=1)))
    return report
