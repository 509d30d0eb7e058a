"""The codec training loop: one readable recipe on the shared engine (``engine.py``: Lightning
Fabric, exact resume, the LR schedule, what follows each step).

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

import time
from pathlib import Path

import numpy as np
import torch

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
from .engine import (
    Budget,
    after_step,
    export_run,
    lr_at,
    make_fabric,
    progress_bar,
    restore_rng,
    rng_state,
    save_fabric_checkpoint,
    set_lr,
    unwrap,
)


def export_weights(codec: Codec, cfg: RunConfig, run_dir: Path) -> None:
    """Write config.yaml + model.safetensors atomically (what `speechtok.load(run_dir)` reads)."""
    export_run(run_dir, codec, cfg, "speechtok-codec")


class Trainer:
    def __init__(self, cfg: RunConfig, run_dir: str | Path, progress: bool = True, workers: int = 1):
        self.cfg, self.run_dir, self.progress, self.workers = cfg, Path(run_dir), progress, workers
        self.started = time.time()
        t = cfg.train
        self.fabric = make_fabric(t, self.run_dir / "logs")

        self.codec = Codec(cfg.model)
        self.semantic = None
        if cfg.loss.semantic:
            from ..codec.semantic_losses import SemanticObjectives

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
        from ..data.forced_align import read_alignments
        from .data import phone_label_track

        path = self.semantic.spec["phones"].get("alignments", "data/asterisk/alignments/en.jsonl")
        rows = read_alignments(path)
        if not rows:
            raise ValueError(
                f"{path}: no forced alignments for the phones objective; make them with "
                f"python -m speechtok.data.forced_align {self.cfg.data.train} --out {path}"
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
            "rng": rng_state(),
        }
        if self.semantic is not None:
            state["semantic"] = self.semantic
        return state

    def save_checkpoint(self) -> None:
        save_fabric_checkpoint(self.fabric, self.ckpt_path, self.state(),
                               lambda: export_weights(unwrap(self.codec), self.cfg, self.run_dir))

    def init_weights(self, path: str | Path) -> None:
        """Start from a run's (or shipped model's) codec weights; optimizers start fresh."""
        from safetensors.torch import load_file

        p = Path(path)
        weights = p / "model.safetensors" if p.is_dir() else p
        unwrap(self.codec).load_state_dict(load_file(str(weights)))

    def resume(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        state = self.state()
        rest = self.fabric.load(self.ckpt_path, state)  # fills `state` in place
        loaded = {**state, **rest}
        self.step = int(loaded["step"])
        restore_rng(loaded.get("rng") or {})
        return True

    # ---- one step ----------------------------------------------------------------------------
    def train_step(self, wav: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        cfg, lw = self.cfg, self.cfg.loss
        t = cfg.train
        time_progress = (time.time() - self.started) / 60 / t.max_minutes if t.max_minutes and t.anneal_by_time else 0.0
        for opt, base in ((self.opt_g, t.lr), (self.opt_d, t.disc_lr)):
            set_lr(opt, lr_at(self.step, base, t.warmup_steps, t.steps, time_progress))
        use_gan = self.step >= lw.disc_start_step and (lw.adversarial > 0 or lw.feature_matching > 0)

        recon, codes, commit, latents = self.codec(wav)
        logs = {}
        mel = self.mel_loss(recon, wav)
        stft = self.stft_loss(recon, wav)
        loss = lw.mel * mel + lw.stft * stft + lw.commitment * commit
        logs.update(mel=mel.item(), stft=stft.item(), commit=float(commit.detach()))
        if self.semantic is not None:
            parts = self.semantic(wav=wav, recon=recon, codes=codes, latents=latents, codec=unwrap(self.codec), labels=labels)
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

        codec = unwrap(self.codec)
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
        codec = unwrap(self.codec)
        q = codec.quantizer
        if q.cfg.kind in ("fsq", "lfq", "bsq") or not q.cfg.kmeans_init:  # no codebook to initialise
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
        self.started = time.time()
        budget = Budget(max_minutes=t.max_minutes)
        bar = progress_bar(self.fabric, self.progress, total=t.steps, initial=self.step, desc="train")
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
            if after_step(self, t, bar, budget, last=t.steps):
                break
        bar.close()
        for logger in self.fabric.loggers:
            logger.finalize("success")
        return self.step
