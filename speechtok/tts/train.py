"""``speechtok tts train``: a voice from a transcribed manifest, resumable, with a quality curve.

The run folder holds ``config.yaml`` (with what was learned from the data), ``model.safetensors``
(the voice: all ``speechtok.tts.load`` needs), ``checkpoint.pt`` (optimizer, step, CPU time: what
``--resume`` continues from; written atomically), ``log.jsonl`` (losses against steps, wall and
CPU minutes: the curve) and ``snapshots/`` (weights at chosen CPU-minutes, to measure the curve).
Each step draws its batch and its dropout from ``(seed, step)``, so a resumed run takes the same
steps as one that never stopped. The loop runs on the shared training engine
(``train/engine.py``: Fabric, the atomic checkpoint, the time budget, the after-step sequence).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ..codec.config import to_dict
from ..errors import SpeechtokError
from ..fsutil import write_atomic
from ..train.engine import (Budget, after_step, lr_warm_cosine, make_fabric, progress_bar, restore_rng, rng_state,
                            save_fabric_checkpoint, set_lr, unwrap)
from .config import TTSRunConfig
from .data import build_items, collate, read_manifest, target_stats
from .frontend import PhoneSet
from .model import AcousticModel, build_model


def token_losses(model: AcousticModel, batch, cfg: TTSRunConfig) -> dict[str, torch.Tensor]:
    """Target tokens: cross-entropy of each codebook's token per frame, and the duration loss."""
    phones, speakers, codes, dur = batch
    y, logd_hat, mask, fmask = model.forward_given(phones, speakers, dur)
    sizes = cfg.learned["codebook_sizes"]
    ce, k0 = 0.0, 0
    for k, V in enumerate(sizes):
        ce = ce + F.cross_entropy(y[..., k0 : k0 + V].reshape(-1, V), codes[..., k].reshape(-1), ignore_index=-100)
        k0 += V
    ce = ce / len(sizes)
    pm = mask.squeeze(-1)
    dloss = (((logd_hat - torch.log1p(dur.float())) ** 2) * pm).sum() / pm.sum().clamp(min=1)
    return {"loss": ce + cfg.train.duration_weight * dloss, "ce": ce, "dur": dloss}


def _collate(cfg, items, phone_set, speaker_ids, mean, std):
    if cfg.target == "tokens":
        from .data import collate_tokens

        return collate_tokens(items, phone_set, speaker_ids)
    return collate(items, phone_set, speaker_ids, mean, std)


def losses(model: AcousticModel, batch, cfg: TTSRunConfig) -> dict[str, torch.Tensor]:
    if cfg.target == "tokens":
        return token_losses(model, batch, cfg)
    phones, speakers, target, n_phones, n_frames, spans = batch
    y, mu_f, dur, logd_hat, pitch_tgt, pitch_hat, mask, fmask = model(phones, speakers, target, n_phones, n_frames, spans)
    fm = fmask.squeeze(-1)
    nf = fm.sum().clamp(min=1)
    D = target.shape[-1]
    feat = (((y[..., : D - 1] - target[..., : D - 1]) ** 2).mean(-1) * fm).sum() / nf
    vuv = (F.binary_cross_entropy_with_logits(y[..., -1], (target[..., -1] > 0).float(), reduction="none") * fm).sum() / nf
    prior = (0.5 * ((target - mu_f) ** 2).mean(-1) * fm).sum() / nf
    pm = mask.squeeze(-1)
    npn = pm.sum().clamp(min=1)
    dloss = (((logd_hat - torch.log1p(dur.float())) ** 2) * pm).sum() / npn
    ploss = (((pitch_hat - pitch_tgt) ** 2) * pm).sum() / npn
    t = cfg.train
    total = feat + vuv + t.prior_weight * prior + t.duration_weight * dloss + t.pitch_weight * ploss
    return {"loss": total, "feat": feat, "vuv": vuv, "prior": prior, "dur": dloss, "pitch": ploss}


def _batches(items, batch_size: int) -> list[list[int]]:
    """Indices grouped by similar length (less padding), fixed for a dataset."""
    order = sorted(range(len(items)), key=lambda i: len(items[i].frames))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def save_voice(model: AcousticModel, cfg: TTSRunConfig, out: Path) -> None:
    import yaml

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    write_atomic(out / "model.safetensors", lambda p: save_file(state, str(p)), suffix=".safetensors")
    write_atomic(out / "config.yaml", lambda p: p.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)))


class TTSTrainer:
    """One voice's training loop on the engine: a trainer with ``step``, ``fabric``,
    ``save_checkpoint()``, ``validate()`` and ``log_step()`` for ``engine.after_step``.

    The TTS's own: each step's batch and dropout are drawn from ``(seed, step)``; ``log.jsonl``
    holds one record per ``log_every`` steps (mean losses, CPU and wall minutes, and the validation
    losses at the logged steps where validation is due); ``snapshots/`` keeps the weights at the
    CPU-minutes of ``snapshot_cpu_minutes``. One process: the budget and the curve are CPU-minutes,
    so ``accelerator: auto`` means the CPU here (name ``gpu`` to train on one)."""

    def __init__(self, cfg: TTSRunConfig, out: Path, fabric, model: AcousticModel, items, valid, progress: bool, log):
        t = cfg.train
        self.cfg, self.out, self.fabric, self.items, self.valid, self.progress, self.log = (
            cfg, out, fabric, items, valid, progress, log)
        lr_ = cfg.learned
        self.phone_set = PhoneSet(lr_["phones"])
        self.mean, self.std = np.asarray(lr_["mean"], np.float32), np.asarray(lr_["std"], np.float32)
        self.speaker_ids = {v: i for i, v in enumerate(lr_["voices"])}
        opt = torch.optim.AdamW(model.parameters(), lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay)
        self.model, self.opt = fabric.setup(model, opt)
        self.batches = _batches(items, t.batch_size)
        self.step, self.saved_step = 0, None
        self.spent = {"wall_seconds": 0.0, "cpu_seconds": 0.0}  # by earlier sessions of this run
        self.budget = Budget(**self.spent)
        self.running: dict[str, float] = {}
        self.snaps: list[float] = []

    @property
    def ckpt_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def _batch(self, items) -> tuple:
        b = _collate(self.cfg, items, self.phone_set, self.speaker_ids, self.mean, self.std)
        return tuple(x.to(self.fabric.device) if torch.is_tensor(x) else x for x in b)

    # ---- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """``checkpoint.pt`` (atomic), then the loadable voice (``model.safetensors``, ``config.yaml``)."""
        state = {"model": self.model, "optimizer": self.opt, "step": self.step,
                 "cpu_seconds": self.budget.cpu(), "wall_seconds": self.budget.wall(), "rng": rng_state()}
        save_fabric_checkpoint(self.fabric, self.ckpt_path, state, lambda: save_voice(unwrap(self.model), self.cfg, self.out))
        self.saved_step = self.step

    def resume(self) -> None:
        """Weights, optimizer, step and the CPU and wall time spent, from ``checkpoint.pt``."""
        rest = self.fabric.load(self.ckpt_path, {"model": self.model, "optimizer": self.opt})
        self.step = self.saved_step = int(rest["step"])
        self.spent = {k: float(rest[k]) for k in self.spent}
        restore_rng(rest.get("rng") or {})

    # ---- one step -------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        t = self.cfg.train
        g = np.random.default_rng([t.seed, self.step])
        batch_idx = self.batches[int(g.integers(len(self.batches)))]
        torch.manual_seed(t.seed * 1_000_003 + self.step)
        batch = self._batch([self.items[i] for i in batch_idx])
        set_lr(self.opt, lr_warm_cosine(self.step, t.lr, t.warmup_steps, t.steps))
        with self.fabric.autocast():
            ls = losses(unwrap(self.model), batch, self.cfg)
        self.opt.zero_grad()
        self.fabric.backward(ls["loss"])
        self.fabric.clip_gradients(self.model, self.opt, max_norm=t.grad_clip, error_if_nonfinite=False)
        self.opt.step()
        self.step += 1
        return {k: v.item() for k, v in ls.items()}

    # ---- after each step (engine.after_step) ------------------------------------------------------
    def _logged(self, step: int) -> bool:
        t = self.cfg.train
        return step % t.log_every == 0 or step == t.steps

    def validate(self) -> dict[str, float]:
        """Mean validation losses (``valid_*``), at the steps ``log.jsonl`` records."""
        if not self.valid or not self._logged(self.step):
            return {}
        model = unwrap(self.model)
        model.eval()
        sums: dict[str, float] = {}
        with torch.no_grad():
            for i in range(0, len(self.valid), 8):
                b = self._batch(self.valid[i : i + 8])
                for k, v in losses(model, b, self.cfg).items():
                    sums[k] = sums.get(k, 0.0) + float(v) * len(b[0])
        model.train()
        return {f"valid_{k}": v / len(self.valid) for k, v in sums.items()}

    def log_step(self, valid: dict[str, float]) -> None:
        """A ``log.jsonl`` record every ``log_every`` steps; the snapshots whose CPU-minutes have come."""
        t, step = self.cfg.train, self.step
        if self._logged(step):
            n = t.log_every if step % t.log_every == 0 else step % t.log_every
            rec = {"step": step, "cpu_minutes": round(self.budget.cpu() / 60, 3),
                   "wall_minutes": round(self.budget.wall() / 60, 3),
                   **{k: round(v / n, 5) for k, v in self.running.items()}}
            self.running = {}
            rec.update({k: round(v, 5) for k, v in valid.items()})
            with open(self.out / "log.jsonl", "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            self.bar.set_postfix(loss=f"{rec['loss']:.3f}", cpu_min=f"{rec['cpu_minutes']:.1f}")
        while self.snaps and self.budget.cpu() >= self.snaps[0] * 60:
            (self.out / "snapshots").mkdir(exist_ok=True)
            state = {k: v.detach().cpu() for k, v in unwrap(self.model).state_dict().items()}
            save_file(state, str(self.out / "snapshots" / f"cpu{self.snaps[0]:g}min-step{step}.safetensors"))
            self.snaps.pop(0)

    # ---- the loop -------------------------------------------------------------------------------
    def fit(self, steps_now: int | None = None) -> str:
        """Train to ``train.steps``, or until the budget or ``steps_now`` steps of this call are
        spent; a checkpoint at the end. Returns why it stopped."""
        t = self.cfg.train
        stop_at = min(t.steps, self.step + steps_now) if steps_now else t.steps
        self.budget = Budget(max_minutes=t.max_minutes, max_cpu_minutes=t.max_cpu_minutes,
                             max_steps=stop_at if stop_at < t.steps else 0, **self.spent)
        self.snaps = sorted(m for m in t.snapshot_cpu_minutes if m * 60 > self.spent["cpu_seconds"])
        unwrap(self.model).train()
        self.bar = progress_bar(self.fabric, self.progress, total=t.steps, initial=self.step, desc="tts train", unit="step")
        reason = ""
        while self.step < t.steps and not reason:
            for k, v in self.train_step().items():
                self.running[k] = self.running.get(k, 0.0) + v
            self.bar.update(1)
            reason = after_step(self, t, self.bar, self.budget, last=t.steps, announce=False)
        self.bar.close()
        if self.saved_step != self.step:
            self.save_checkpoint()
        if reason == "max_steps":
            return f"{steps_now} steps this run"
        return f"{reason} ({self.budget.limits[reason]:g})" if reason else "steps"


def train(cfg: TTSRunConfig, out: str | Path, resume: bool = False, progress: bool = True, log=print,
          steps_now: int | None = None) -> Path:
    """Train (or continue) a voice in ``out``; returns the folder. ``steps_now``: stop (with a
    checkpoint) after this many steps of this call, to continue later with ``resume``."""
    import speechtok

    out = Path(out)
    ck = out / "checkpoint.pt"
    if resume and not ck.is_file():
        raise SpeechtokError(f"{out}: nothing to resume (no checkpoint.pt); start without --resume")
    if not resume and (out / "model.safetensors").exists():
        raise SpeechtokError(f"{out}: already holds a voice; pass --resume to continue it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    t = cfg.train
    tok = speechtok.load(cfg.codec)
    codec = getattr(tok, "codec", None)
    tokens_target = cfg.target == "tokens"
    if not tokens_target and (codec is None or not hasattr(codec, "features")):
        raise SpeechtokError(f"codec {cfg.codec!r}: target parameters needs a source-filter codec (speechtok-base, "
                             f"speechtok-fast, ...); any tokenizer works with target: tokens")
    codec_id = f"{tok.name}:{tok.version}"
    d = cfg.data
    if not d.train:
        raise SpeechtokError("data.train: give a transcribed JSONL manifest")
    rows = read_manifest(d.train, d.speakers or None, d.languages or None)
    if not rows:
        raise SpeechtokError(f"{d.train}: no transcribed rows for speakers {d.speakers or 'any'} / languages {d.languages or 'any'}")
    vrows = read_manifest(d.valid, d.speakers or None, d.languages or None)[: d.max_valid] if d.valid else []
    # one process (each step's batch is a function of (seed, step)); on the CPU unless the config names
    # another accelerator: the budget and the curve are CPU-minutes
    try:
        fabric = make_fabric(t, None, accelerator="cpu" if t.accelerator == "auto" else t.accelerator, devices=1,
                             strategy="auto", num_nodes=1)
    except ValueError as e:  # Lightning refuses the accelerator or the precision
        raise SpeechtokError(f"train settings refused: {str(e).splitlines()[0]}") from None
    if tokens_target:
        from .data import build_token_items
        from .voice import Voice

        aligner = Voice.load(cfg.durations_from)
        if aligner.cfg.target != "parameters":
            raise SpeechtokError(f"durations_from {cfg.durations_from}: must be a voice trained with target parameters")
        items = build_token_items(rows, tok, aligner, out / "cache", progress)
        valid = build_token_items(vrows, tok, aligner, out / "cache", progress) if vrows else []
    else:
        items = build_items(rows, codec, codec_id, out / "cache", progress, d.alignment)
        valid = build_items(vrows, codec, codec_id, out / "cache", progress, d.alignment) if vrows else []
    if resume:
        from .config import load_tts_config

        cfg.learned = load_tts_config(out / "config.yaml").learned
    else:
        phone_set = PhoneSet.from_sequences(it.phones for it in items)
        if tokens_target:
            K = items[0].frames.shape[1]
            sizes = [int(v) for v in tok.codebook_sizes[:K]]
            mean, std = np.zeros(0, np.float32), np.zeros(0, np.float32)
        else:
            mean, std = target_stats(items)
        voices = sorted({it.speaker for it in items})
        langs = {v: sorted({it.language for it in items if it.speaker == v}) for v in voices}
        cfg.learned = {"phones": phone_set.symbols, "voices": voices, "languages": langs,
                       "out_dim": sum(sizes) if tokens_target else int(items[0].frames.shape[1]),
                       "mean": mean.tolist(), "std": std.tolist(),
                       "codec_id": codec_id, "frame_rate": float(tok.frame_rate),
                       "train_utterances": len(items),
                       "train_minutes": round(sum(len(i.frames) for i in items) / tok.frame_rate / 60, 2),
                       "durations": (f"from the MAS alignment of the voice {cfg.durations_from}" if tokens_target
                                     else "MAS inside training, each word's phones kept within the word's pocketsphinx "
                                          "forced alignment" if d.alignment == "pocketsphinx"
                                     else "learned: monotonic alignment search (MAS) inside training"),
                       "frontend": "words" if d.alignment == "pocketsphinx" else "espeak"}
        if tokens_target:
            cfg.learned["codebook_sizes"] = sizes
    lr_ = cfg.learned
    phone_set = PhoneSet(lr_["phones"])
    mean, std = np.asarray(lr_["mean"], np.float32), np.asarray(lr_["std"], np.float32)
    speaker_ids = {v: i for i, v in enumerate(lr_["voices"])}
    valid = [v for v in valid if v.speaker in speaker_ids and all(p in phone_set.index for p in v.phones)]
    torch.manual_seed(t.seed)  # the initial weights: a function of the seed, whatever the data building drew
    trainer = TTSTrainer(cfg, out, fabric, build_model(cfg), items, valid, progress, log)
    if resume:
        trainer.resume()
        log(f"resuming {out} at step {trainer.step} ({trainer.spent['cpu_seconds'] / 60:.1f} CPU-minutes)")
    else:
        save_voice(unwrap(trainer.model), cfg, out)
    n_params = sum(p.numel() for p in trainer.model.parameters())
    log(f"{len(items)} utterances ({lr_['train_minutes']} min), {len(phone_set) - 1} phones, "
        f"{len(lr_['voices'])} voice(s), {n_params / 1e6:.2f} M parameters, {len(trainer.batches)} batches")
    stopped = trainer.fit(steps_now)
    b = trainer.budget
    log(f"stopped at step {trainer.step} ({stopped}); {b.cpu() / 60:.1f} CPU-minutes, {b.wall() / 60:.1f} wall minutes -> {out}")
    return out
