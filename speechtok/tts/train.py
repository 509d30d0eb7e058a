"""``speechtok tts train``: a voice from a transcribed manifest, resumable, with a quality curve.

The run folder holds ``config.yaml`` (with what was learned from the data), ``model.safetensors``
(the voice: all ``speechtok.tts.load`` needs), ``checkpoint.pt`` (optimizer, step, CPU time: what
``--resume`` continues from; written atomically), ``log.jsonl`` (losses against steps, wall and
CPU minutes: the curve) and ``snapshots/`` (weights at chosen CPU-minutes, to measure the curve).
Each step draws its batch and its dropout from ``(seed, step)``, so a resumed run takes the same
steps as one that never stopped.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm import tqdm

from ..codec.config import to_dict
from ..errors import SpeechtokError
from ..fsutil import write_atomic
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
    phones, speakers, target, n_phones, n_frames = batch
    y, mu_f, dur, logd_hat, pitch_tgt, pitch_hat, mask, fmask = model(phones, speakers, target, n_phones, n_frames)
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


def _lr(step: int, cfg) -> float:
    t = cfg.train
    warm = min(1.0, (step + 1) / max(1, t.warmup_steps))
    return t.lr * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, t.steps))))


def save_voice(model: AcousticModel, cfg: TTSRunConfig, out: Path) -> None:
    import yaml

    write_atomic(out / "model.safetensors", lambda p: save_file(model.state_dict(), str(p)), suffix=".safetensors")
    write_atomic(out / "config.yaml", lambda p: p.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)))


def _valid_losses(model, valid, cfg, mean, std, phone_set, speaker_ids) -> dict:
    if not valid:
        return {}
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        for i in range(0, len(valid), 8):
            b = _collate(cfg, valid[i : i + 8], phone_set, speaker_ids, mean, std)
            for k, v in losses(model, b, cfg).items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(b[0])
    model.train()
    return {f"valid_{k}": v / len(valid) for k, v in sums.items()}


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
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
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
    if tokens_target:
        from .data import build_token_items
        from .voice import Voice

        aligner = Voice.load(cfg.durations_from)
        if aligner.cfg.target != "parameters":
            raise SpeechtokError(f"durations_from {cfg.durations_from}: must be a voice trained with target parameters")
        items = build_token_items(rows, tok, aligner, out / "cache", progress)
        valid = build_token_items(vrows, tok, aligner, out / "cache", progress) if vrows else []
    else:
        items = build_items(rows, codec, codec_id, out / "cache", progress)
        valid = build_items(vrows, codec, codec_id, out / "cache", progress) if vrows else []
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
                                     else "learned: monotonic alignment search (MAS) inside training")}
        if tokens_target:
            cfg.learned["codebook_sizes"] = sizes
    lr_ = cfg.learned
    phone_set = PhoneSet(lr_["phones"])
    mean, std = np.asarray(lr_["mean"], np.float32), np.asarray(lr_["std"], np.float32)
    speaker_ids = {v: i for i, v in enumerate(lr_["voices"])}
    valid = [v for v in valid if v.speaker in speaker_ids and all(p in phone_set.index for p in v.phones)]
    torch.manual_seed(t.seed)
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=t.lr, betas=tuple(t.betas), weight_decay=t.weight_decay)
    step, cpu0, wall0 = 0, 0.0, 0.0
    if resume:
        state = torch.load(ck, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, cpu0, wall0 = state["step"], state["cpu_seconds"], state["wall_seconds"]
        log(f"resuming {out} at step {step} ({cpu0 / 60:.1f} CPU-minutes)")
    else:
        save_voice(model, cfg, out)
    batches = _batches(items, t.batch_size)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"{len(items)} utterances ({lr_['train_minutes']} min), {len(phone_set) - 1} phones, "
        f"{len(lr_['voices'])} voice(s), {n_params / 1e6:.2f} M parameters, {len(batches)} batches")
    c_start, w_start = time.process_time(), time.time()
    cpu = lambda: cpu0 + time.process_time() - c_start  # noqa: E731
    wall = lambda: wall0 + time.time() - w_start  # noqa: E731
    snaps = sorted(m for m in t.snapshot_cpu_minutes if m * 60 > cpu0)
    logf = out / "log.jsonl"

    def checkpoint():
        save_voice(model, cfg, out)
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                 "cpu_seconds": cpu(), "wall_seconds": wall()}
        write_atomic(ck, lambda p: torch.save(state, p), suffix=".pt")

    model.train()
    bar = tqdm(total=t.steps, initial=step, desc="tts train", unit="step", disable=not progress)
    running: dict[str, float] = {}
    stopped = "steps"
    stop_at = min(t.steps, step + steps_now) if steps_now else t.steps
    while step < stop_at:
        g = np.random.default_rng([t.seed, step])
        batch_idx = batches[int(g.integers(len(batches)))]
        torch.manual_seed(t.seed * 1_000_003 + step)
        batch = _collate(cfg, [items[i] for i in batch_idx], phone_set, speaker_ids, mean, std)
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        ls = losses(model, batch, cfg)
        opt.zero_grad()
        ls["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        opt.step()
        step += 1
        bar.update(1)
        for k, v in ls.items():
            running[k] = running.get(k, 0.0) + v.item()
        if step % t.log_every == 0 or step == t.steps:
            n = t.log_every if step % t.log_every == 0 else step % t.log_every
            rec = {"step": step, "cpu_minutes": round(cpu() / 60, 3), "wall_minutes": round(wall() / 60, 3),
                   **{k: round(v / n, 5) for k, v in running.items()}}
            running = {}
            if t.valid_every and (step % t.valid_every == 0 or step == t.steps):
                rec.update({k: round(v, 5) for k, v in _valid_losses(model, valid, cfg, mean, std, phone_set, speaker_ids).items()})
            with open(logf, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            bar.set_postfix(loss=f"{rec['loss']:.3f}", cpu_min=f"{rec['cpu_minutes']:.1f}")
        while snaps and cpu() >= snaps[0] * 60:
            (out / "snapshots").mkdir(exist_ok=True)
            save_file(model.state_dict(), str(out / "snapshots" / f"cpu{snaps[0]:g}min-step{step}.safetensors"))
            snaps.pop(0)
        if step % t.checkpoint_every == 0:
            checkpoint()
        if t.max_cpu_minutes and cpu() >= t.max_cpu_minutes * 60:
            stopped = f"max_cpu_minutes ({t.max_cpu_minutes:g})"
            break
        if t.max_minutes and wall() >= t.max_minutes * 60:
            stopped = f"max_minutes ({t.max_minutes:g})"
            break
    bar.close()
    if step == stop_at < t.steps:
        stopped = f"{steps_now} steps this run"
    checkpoint()
    log(f"stopped at step {step} ({stopped}); {cpu() / 60:.1f} CPU-minutes, {wall() / 60:.1f} wall minutes -> {out}")
    return out
