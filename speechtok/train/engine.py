"""The training engine every speechtok trainer shares: Lightning Fabric set up from a train config,
exact resume (checkpoints written atomically, every random stream saved), the learning-rate
schedules, the time budget (wall and process-CPU minutes, across resumes), the progress bar, and
what follows each step (validation, the trainer's own record, checkpoint, stop).

A trainer brings its model, its step and its validation; it keeps ``step``, ``fabric`` and
``save_checkpoint()`` / ``validate()`` methods (and, optionally, ``log_step(metrics)``) and calls
``after_step`` after each step. The codec trainer (``train/loop.py``), the token-LM trainer
(``lm/train.py``), the TTS trainer (``tts/train.py``) and the source-filter refiner
(``codec/sourcefilter/train.py``) use it.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm


def unwrap(module):
    """The user's module inside Fabric's wrapper."""
    return getattr(module, "module", module)


def _numpy_rng_state() -> dict:
    """NumPy's RNG state in plain types, so checkpoints load with torch's weights_only."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}


def _numpy_rng_restore(s: dict):
    return (s["name"], s["keys"].numpy().astype(np.uint32), s["pos"], s["has_gauss"], s["cached"])


def rng_state() -> dict:
    """Every random stream a training step draws from (torch, numpy, python; CUDA when present),
    in plain types: the ``rng`` entry of a checkpoint, for exact resume."""
    state = {"torch": torch.get_rng_state(), "numpy": _numpy_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    """Put back what ``rng_state`` saved (streams a checkpoint lacks are left as they are)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"])
        np.random.set_state(_numpy_rng_restore(state["numpy"]))
        random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def lr_at(step: int, base: float, warmup: int, total: int, time_progress: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to 10% of ``base``; ``time_progress`` (0..1) lets a
    time-budgeted run anneal by the clock when it will not reach ``total`` steps."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, max((step - warmup) / max(1, total - warmup), time_progress))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def lr_warm_cosine(step: int, base: float, warmup: int, total: int) -> float:
    """A cosine decay from ``base`` to 0 over all ``total`` steps, times a linear warm-up over the
    first ``warmup``: the TTS's schedule (its shipped voices were trained with it)."""
    warm = min(1.0, (step + 1) / max(1, warmup))
    return base * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, total))))


def set_lr(optimizer, lr: float) -> None:
    """The learning rate of every parameter group of ``optimizer``."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def export_run(run_dir: Path, module, cfg, fmt: str) -> None:
    """``config.yaml`` (``cfg``) + ``model.safetensors`` (``module``'s weights as float32, with
    ``format: fmt`` and the run's name in the metadata), each written atomically: the run folder a
    trainer leaves loadable at every checkpoint."""
    from ..codec.config import save_yaml
    from ..fsutil import write_atomic
    from ..runs import WEIGHTS, save_weights

    state = {k: v.detach().float().cpu() for k, v in unwrap(module).state_dict().items()}
    write_atomic(Path(run_dir) / "config.yaml", lambda tmp: save_yaml(cfg, tmp))
    save_weights(Path(run_dir) / WEIGHTS, state, {"format": fmt, "name": cfg.name})


def make_fabric(t, log_dir: Path | None = None, **settings):
    """A launched, seeded Lightning Fabric for a train config (``accelerator``, ``devices``,
    ``strategy``, ``num_nodes``, ``precision``, ``seed``, ``num_threads``; ``settings`` given here
    replace the config's, or stand in for those a trainer's config lacks), logging CSV (+ TensorBoard
    when installed) to ``log_dir`` (None: no loggers, for a trainer that keeps its own log)."""
    import lightning as L

    keys = ("accelerator", "devices", "strategy", "num_nodes", "precision", "seed", "num_threads")
    s = {k: settings[k] if k in settings else getattr(t, k) for k in keys}
    if s["num_threads"]:
        torch.set_num_threads(s["num_threads"])
    loggers = []
    if log_dir is not None:
        from lightning.fabric.loggers import CSVLogger

        # a resumed run logs beside the earlier logs, never over them (Lightning's CSV logger would
        # replace metrics.csv)
        version = f"resumed-{time.strftime('%Y%m%d-%H%M%S')}" if (Path(log_dir) / "metrics.csv").exists() else ""
        loggers.append(CSVLogger(str(log_dir), name="", version=version))
        try:
            from lightning.fabric.loggers import TensorBoardLogger
            import tensorboard  # noqa: F401

            loggers.append(TensorBoardLogger(str(log_dir), name="tb", version=""))
        except ImportError:
            pass
    fabric = L.Fabric(
        accelerator=s["accelerator"],
        devices=s["devices"],
        strategy=s["strategy"],
        num_nodes=s["num_nodes"],
        precision=s["precision"],
        loggers=loggers,
    )
    fabric.launch()
    torch.set_float32_matmul_precision("high")  # TF32 on GPUs that have it; no effect on CPU
    fabric.seed_everything(s["seed"] + fabric.global_rank, verbose=False)
    return fabric


def progress_bar(fabric, show: bool, **kw):
    """A tqdm bar (``kw``: total, initial, desc, ...) shown on rank 0 when ``show``."""
    return tqdm(disable=not (show and fabric.is_global_zero), dynamic_ncols=True, **kw)


class Budget:
    """When a run stops before its last step: after ``max_steps`` steps, ``max_minutes`` of wall time
    or ``max_cpu_minutes`` of this process's CPU time (0 = no such limit). The clocks count what
    earlier sessions of the run spent (``wall_seconds`` / ``cpu_seconds``, from its checkpoint)."""

    def __init__(self, max_minutes: float = 0.0, max_cpu_minutes: float = 0.0, max_steps: int = 0,
                 wall_seconds: float = 0.0, cpu_seconds: float = 0.0):
        self.limits = {"max_steps": max_steps, "max_minutes": max_minutes, "max_cpu_minutes": max_cpu_minutes}
        self._wall, self._cpu = time.time() - wall_seconds, time.process_time() - cpu_seconds

    def wall(self) -> float:
        """Wall seconds spent, earlier sessions included."""
        return time.time() - self._wall

    def cpu(self) -> float:
        """Process-CPU seconds spent, earlier sessions included."""
        return time.process_time() - self._cpu

    def spent(self, fabric, step: int) -> str:
        """The limit reached after ``step`` (a key of ``limits``; "" = none). On several processes
        rank 0's clocks decide, so that every rank stops at the same step."""
        lim = self.limits
        reason = ("max_steps" if lim["max_steps"] and step >= lim["max_steps"] else
                  "max_cpu_minutes" if lim["max_cpu_minutes"] and self.cpu() >= lim["max_cpu_minutes"] * 60 else
                  "max_minutes" if lim["max_minutes"] and self.wall() >= lim["max_minutes"] * 60 else "")
        if fabric.world_size > 1 and (lim["max_minutes"] or lim["max_cpu_minutes"]):
            reason = fabric.broadcast(reason, src=0)
        return reason


def save_fabric_checkpoint(fabric, path: Path, state: dict, export) -> None:
    """Save the full training state to ``path`` under a temporary name and rename it into place,
    then ``export()`` the loadable weights (rank 0); all ranks wait for it."""
    from ..fsutil import STOP_ERRNOS

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fabric.save(tmp, state)
    except OSError as e:
        if tmp.exists():
            tmp.unlink()
        if e.errno in STOP_ERRNOS:  # name our checkpoint, not the temporary file fsspec wrote first
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise
    if fabric.is_global_zero:
        os.replace(tmp, path)
        export()
    fabric.barrier()


def after_step(trainer, t, bar, budget: Budget, last: int | None, announce: bool = True) -> str:
    """What follows every training step, for a trainer with ``step``, ``fabric``,
    ``save_checkpoint()`` and ``validate()``, in this order:

    1. the budget (``Budget.spent``): has the run reached one of its limits?
    2. on rank 0, every ``t.valid_every`` steps and at step ``last`` (None: no last step),
       ``validate()``; it leaves the random streams as it found them;
    3. ``trainer.log_step(metrics)`` when the trainer keeps its own record of each step (the
       validation metrics, or {}), else the metrics go to Fabric's loggers and the bar;
    4. a checkpoint every ``t.checkpoint_every`` steps, at step ``last`` and when the budget is spent.

    Returns the limit reached ("" = go on); with ``announce`` the bar says so."""
    step, fabric = trainer.step, trainer.fabric
    reason = budget.spent(fabric, step)
    is_last = last is not None and step >= last
    metrics = {}
    if t.valid_every and (step % t.valid_every == 0 or is_last) and fabric.is_global_zero:
        streams = rng_state()
        metrics = trainer.validate() or {}
        restore_rng(streams)
    if hasattr(trainer, "log_step"):
        trainer.log_step(metrics)
    elif metrics:
        fabric.log_dict(metrics, step=step)
        bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    if step % t.checkpoint_every == 0 or is_last or reason:
        trainer.save_checkpoint()
    if reason and announce:
        bar.write(f"stopping at step {step}: {reason}={budget.limits[reason]} reached (resume with --resume)")
    return reason
