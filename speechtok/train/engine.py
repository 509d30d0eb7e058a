"""The training engine every speechtok trainer shares: Lightning Fabric set up from an
``EngineConfig``, exact resume (checkpoints written atomically, every random stream saved), the
learning-rate schedule, and what follows each step (checkpoint, validation, the time budget).

A trainer brings its model, its step and its validation; it keeps ``step``, ``fabric`` and
``save_checkpoint()`` / ``validate()`` methods, and calls ``after_step`` after each step. The codec
trainer (``train/loop.py``) and the token-LM trainer (``lm/train.py``) use it.
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch


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


def make_fabric(t, log_dir: Path):
    """A launched, seeded Lightning Fabric for a train config (``accelerator``, ``devices``,
    ``strategy``, ``num_nodes``, ``precision``, ``seed``, ``num_threads``), logging CSV (+ TensorBoard
    when installed) to ``log_dir``. Shared by the codec and the token-LM trainers."""
    import lightning as L
    from lightning.fabric.loggers import CSVLogger

    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    # a resumed run logs beside the earlier logs, never over them (Lightning's CSV logger would
    # replace metrics.csv)
    version = f"resumed-{time.strftime('%Y%m%d-%H%M%S')}" if (Path(log_dir) / "metrics.csv").exists() else ""
    loggers = [CSVLogger(str(log_dir), name="", version=version)]
    try:
        from lightning.fabric.loggers import TensorBoardLogger
        import tensorboard  # noqa: F401

        loggers.append(TensorBoardLogger(str(log_dir), name="tb", version=""))
    except ImportError:
        pass
    fabric = L.Fabric(
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        num_nodes=t.num_nodes,
        precision=t.precision,
        loggers=loggers,
    )
    fabric.launch()
    torch.set_float32_matmul_precision("high")  # TF32 on GPUs that have it; no effect on CPU
    fabric.seed_everything(t.seed + fabric.global_rank, verbose=False)
    return fabric


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


def after_step(trainer, t, bar, start: float) -> bool:
    """What follows every training step, for any trainer with ``step``, ``fabric``,
    ``save_checkpoint()`` and ``validate()``: checkpoint every ``t.checkpoint_every`` steps, at the
    end and when ``t.max_minutes`` is spent; validate every ``t.valid_every`` steps. True = stop."""
    step = trainer.step
    out_of_time = t.max_minutes and (time.time() - start) / 60 >= t.max_minutes
    if step % t.checkpoint_every == 0 or step == t.steps or out_of_time:
        trainer.save_checkpoint()
    if t.valid_every and (step % t.valid_every == 0 or step == t.steps) and trainer.fabric.is_global_zero:
        metrics = trainer.validate()
        if metrics:
            trainer.fabric.log_dict(metrics, step=step)
            bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())))
    if out_of_time:
        bar.write(f"stopping at step {step}: max_minutes={t.max_minutes} reached (resume with --resume)")
    return bool(out_of_time)
