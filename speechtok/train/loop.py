"""The training loop: one readable function on top of Lightning Fabric.

Fabric handles devices, precision and multi-GPU / multi-node; this file holds the recipe:
generator step (mel + multi-resolution STFT + commitment [+ adversarial + feature matching after
warm-up] [+ semantic objectives]) then discriminator step. A run folder holds::

    config.yaml          the full RunConfig (the folder is loadable: speechtok.load(run_dir))
    model.safetensors    codec weights (exported at every checkpoint)
    checkpoints/last.ckpt  full training state for exact resume (ours: written by this loop)
    logs/                CSV (+ TensorBoard when installed) logs
    samples/step_N/      validation audio
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

from ..codec.config import RunConfig, save_yaml
from ..codec.discriminators import Discriminators
from ..codec.loss import (
    MultiResolutionMelLoss,
    MultiResolutionSTFTLoss,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)
from ..codec.model import Codec
from .data import SegmentSampler, load_manifest_audio


def _unwrap(module):
    """The user's module inside Fabric's wrapper."""
    return getattr(module, "module", module)


def _numpy_rng_state() -> dict:
    """NumPy's RNG state in plain types, so checkpoints load with torch's weights_only."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)}


def _numpy_rng_restore(s: dict):
    return (s["name"], s["keys"].numpy().astype(np.uint32), s["pos"], s["has_gauss"], s["cached"])


def lr_at(step: int, base: float, warmup: int, total: int, time_progress: float = 0.0) -> float:
    """Linear warm-up, then cosine decay to 10% of ``base``; ``time_progress`` (0..1) lets a
    time-budgeted run anneal by the clock when it will not reach ``total`` steps."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, max((step - warmup) / max(1, total - warmup), time_progress))
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def export_weights(codec: Codec, cfg: RunConfig, run_dir: Path) -> None:
    """Write config.yaml + model.safetensors atomically (what `speechtok.load(run_dir)` reads)."""
    from safetensors.torch import save_file

    from ..fsutil import write_atomic

    state = {k: v.detach().float().cpu().contiguous() for k, v in codec.state_dict().items()}
    write_atomic(run_dir / "config.yaml", lambda tmp: save_yaml(cfg, tmp))
    write_atomic(run_dir / "model.safetensors", lambda tmp: save_file(state, str(tmp), metadata={"format": "speechtok-codec", "name": cfg.name}))


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


class Trainer:
    def __init__(self, cfg: RunConfig, run_dir: str | Path, progress: bool = True, workers: int = 1):
        self.cfg, self.run_dir, self.progress, self.workers = cfg, Path(run_dir), progress, workers
        self.started = time.time()
        t = cfg.train
        self.fabric = make_fabric(t, self.run_dir / "logs")

        self.codec = Codec(cfg.model)
        self.semantic = None
        if cfg.loss.semantic:
            from ..codec.semantic import SemanticObjectives

            self.semantic = SemanticObjectives(cfg.loss.semantic, self.codec)
        self.disc = Discriminators()
        self.mel_loss = MultiResolutionMelLoss(cfg.model.sample_rate)
        self.stft_loss = MultiResolutionSTFTLoss()
        gen_params = list(self.codec.parameters())
        if self.semantic is not None:
            gen_params += [p for p in self.semantic.parameters() if p.requires_grad]
        opt_g = torch.optim.AdamW(gen_params, lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay)
        opt_d = torch.optim.AdamW(self.disc.parameters(), lr=t.disc_lr, betas=tuple(t.betas))
        self.codec, self.opt_g = self.fabric.setup(self.codec, opt_g)
        self.disc, self.opt_d = self.fabric.setup(self.disc, opt_d)
        self.mel_loss = self.mel_loss.to(self.fabric.device)
        self.stft_loss = self.stft_loss.to(self.fabric.device)
        if self.semantic is not None:
            self.semantic = self.semantic.to(self.fabric.device)
        self.step = 0
        self.sampler = None
        self.valid = None

    # ---- data ----------------------------------------------------------------------------
    def load_data(self, train_wavs=None, valid_wavs=None) -> None:
        d, m = self.cfg.data, self.cfg.model
        show = self.progress and self.fabric.is_global_zero
        labels = None
        if train_wavs is None:
            ids, train_wavs = load_manifest_audio(d.train, m.sample_rate, progress=show, workers=self.workers)
            if self.semantic is not None and self.semantic.needs_labels:
                labels = self._phone_labels(ids, train_wavs)
        segment = int(round(d.segment_seconds * m.sample_rate / m.hop)) * m.hop
        self.sampler = SegmentSampler(
            train_wavs, segment, self.cfg.train.seed, self.fabric.global_rank, d.gain_db, labels=labels, hop=m.hop
        )
        if valid_wavs is None and d.valid and Path(d.valid).exists():
            _, valid_wavs = load_manifest_audio(
                d.valid, m.sample_rate, limit=d.max_valid_utterances, progress=show, workers=self.workers
            )
        cap = int(d.max_valid_seconds * m.sample_rate)
        self.valid = [w[:cap] for w in (valid_wavs or [])][: d.max_valid_utterances]

    def _phone_labels(self, ids, wavs):
        from ..semantic.align import read_alignments
        from .data import phone_label_track

        path = self.semantic.spec["phones"].get("alignments", "data/asterisk/alignments/en.jsonl")
        rows = read_alignments(path)
        if not rows:
            raise ValueError(
                f"{path}: no forced alignments for the phones objective; make them with "
                f"python -m speechtok.semantic.align {self.cfg.data.train} --out {path}"
            )
        tracks = [phone_label_track(rows[i], len(w)) if i in rows else None for i, w in zip(ids, wavs)]
        print(f"phones objective: {sum(t is not None for t in tracks)} of {len(ids)} training utterances aligned")
        return tracks

    # ---- checkpoints -----------------------------------------------------------------------
    @property
    def ckpt_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.ckpt"

    def state(self) -> dict:
        state = {
            "codec": self.codec,
            "disc": self.disc,
            "opt_g": self.opt_g,
            "opt_d": self.opt_d,
            "step": self.step,
            # quantizer dropout and dead-code replacement draw random numbers: keep the stream
            "rng": {"torch": torch.get_rng_state(), "numpy": _numpy_rng_state(), "python": random.getstate()},
        }
        if torch.cuda.is_available():
            state["rng"]["cuda"] = torch.cuda.get_rng_state_all()
        if self.semantic is not None:
            state["semantic"] = self.semantic
        return state

    def save_checkpoint(self) -> None:
        save_fabric_checkpoint(self.fabric, self.ckpt_path, self.state(),
                               lambda: export_weights(_unwrap(self.codec), self.cfg, self.run_dir))

    def init_weights(self, path: str | Path) -> None:
        """Start from a run's (or shipped model's) codec weights; optimizers start fresh."""
        from safetensors.torch import load_file

        p = Path(path)
        weights = p / "model.safetensors" if p.is_dir() else p
        _unwrap(self.codec).load_state_dict(load_file(str(weights)))

    def resume(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        state = self.state()
        rest = self.fabric.load(self.ckpt_path, state)  # fills `state` in place
        loaded = {**state, **rest}
        self.step = int(loaded["step"])
        rng = loaded.get("rng") or {}
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
            np.random.set_state(_numpy_rng_restore(rng["numpy"]))
            random.setstate(rng["python"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        return True

    # ---- one step ----------------------------------------------------------------------------
    def train_step(self, wav: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        cfg, lw = self.cfg, self.cfg.loss
        t = cfg.train
        time_progress = (time.time() - self.started) / 60 / t.max_minutes if t.max_minutes and t.anneal_by_time else 0.0
        for opt, base in ((self.opt_g, t.lr), (self.opt_d, t.disc_lr)):
            for group in opt.param_groups:
                group["lr"] = lr_at(self.step, base, t.warmup_steps, t.steps, time_progress)
        use_gan = self.step >= lw.disc_start_step and (lw.adversarial > 0 or lw.feature_matching > 0)

        recon, codes, commit, latents = self.codec(wav)
        logs = {}
        mel = self.mel_loss(recon, wav)
        stft = self.stft_loss(recon, wav)
        loss = lw.mel * mel + lw.stft * stft + lw.commitment * commit
        logs.update(mel=mel.item(), stft=stft.item(), commit=float(commit.detach()))
        if self.semantic is not None:
            parts = self.semantic(wav=wav, recon=recon, codes=codes, latents=latents, codec=_unwrap(self.codec), labels=labels)
            for name, (weight, value) in parts.items():
                loss = loss + weight * value
                logs[f"sem_{name}"] = value.item()
        if use_gan:
            fake = self.disc(recon)
            with torch.no_grad():
                real = self.disc(wav)
            adv = generator_loss(fake)
            fm = feature_matching_loss(real, fake)
            loss = loss + lw.adversarial * adv + lw.feature_matching * fm
            logs.update(adv=adv.item(), fm=fm.item())
        self.opt_g.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        if t.grad_clip:
            self.fabric.clip_gradients(self.codec, self.opt_g, max_norm=t.grad_clip, error_if_nonfinite=False)
        self.opt_g.step()

        if use_gan:
            d_loss = discriminator_loss(self.disc(wav), self.disc(recon.detach()))
            self.opt_d.zero_grad(set_to_none=True)
            self.fabric.backward(d_loss)
            if t.grad_clip:
                self.fabric.clip_gradients(self.disc, self.opt_d, max_norm=t.grad_clip * 10, error_if_nonfinite=False)
            self.opt_d.step()
            logs["disc"] = d_loss.item()
        logs["loss"] = loss.item()
        self.step += 1
        return logs

    # ---- validation ----------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        if not self.valid:
            return {}
        from ..eval_light import quality_metrics

        codec = _unwrap(self.codec)
        codec.eval()
        out_dir = self.run_dir / "samples" / f"step_{self.step}"
        sums: dict[str, list[float]] = {}
        levels = sorted({1, max(1, codec.quantizer.num_codebooks // 2), codec.quantizer.num_codebooks})
        for i, w in enumerate(self.valid):
            x = torch.from_numpy(w)[None].to(self.fabric.device)
            codes = codec.encode(x)
            for k in levels:
                y = codec.decode(codes[:, :k])[0, : len(w)].float().cpu().numpy()
                for name, value in quality_metrics(w, y, codec.cfg.sample_rate).items():
                    sums.setdefault(f"val_{name}_q{k}", []).append(value)
                if i < 3:
                    from ..audio import write_audio_atomic

                    write_audio_atomic(out_dir / f"{i}_q{k}.wav", y, codec.cfg.sample_rate)
                    if k == levels[0]:
                        write_audio_atomic(out_dir / f"{i}_orig.wav", w, codec.cfg.sample_rate)
        codec.train()
        return {k: float(np.mean(v)) for k, v in sums.items()}

    @torch.no_grad()
    def init_codebooks(self, vectors_per_code: int = 4, max_batch: int = 512) -> None:
        """k-means-initialise every codebook from many segments at once, with quantizer dropout off,
        instead of from the first training batch only (which may hold fewer vectors than codes)."""
        codec = _unwrap(self.codec)
        q = codec.quantizer
        if q.cfg.kind == "fsq" or not q.cfg.kmeans_init:
            return
        frames = self.sampler.segment // codec.hop
        n = min(max_batch, -(-vectors_per_code * max(q.codebook_sizes) // frames))
        impl = q.impl
        saved = {a: getattr(impl, a) for a in ("dropout", "quantize_dropout") if hasattr(impl, a)}
        for a in saved:
            setattr(impl, a, False)
        batch = self.sampler.batch(-1, n)
        wav = batch[0] if isinstance(batch, tuple) else batch
        codec.quantizer(codec.encoder(wav.to(self.fabric.device)))  # one pass: k-means sees all of it
        for a, v in saved.items():
            setattr(impl, a, v)

    # ---- the loop ----------------------------------------------------------------------------
    def fit(self) -> int:
        t = self.cfg.train
        if self.sampler is None:
            self.load_data()
        if self.fabric.is_global_zero:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_yaml(self.cfg, self.run_dir / "config.yaml")
        if self.step == 0:
            self.init_codebooks()
        start = self.started = time.time()
        bar = tqdm(total=t.steps, initial=self.step, desc="train", disable=not (self.progress and self.fabric.is_global_zero), dynamic_ncols=True)
        per_rank = max(1, t.batch_size // self.fabric.world_size)
        while self.step < t.steps:
            batch = self.sampler.batch(self.step, per_rank)
            wav, labels = batch if isinstance(batch, tuple) else (batch, None)
            logs = self.train_step(wav.to(self.fabric.device), None if labels is None else labels.to(self.fabric.device))
            bar.update(1)
            if self.step % t.log_every == 0 or self.step == 1:
                logs["lr"] = self.opt_g.param_groups[0]["lr"]
                self.fabric.log_dict(logs, step=self.step)
                bar.set_postfix(mel=f"{logs['mel']:.3f}", loss=f"{logs['loss']:.3f}")
            if after_step(self, t, bar, start):
                break
        bar.close()
        for logger in self.fabric.loggers:
            logger.finalize("success")
        return self.step
