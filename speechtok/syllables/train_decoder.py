"""Training the syllable decoder (``decoder.py``): ``python -m speechtok.syllables train-decoder``.

Every utterance of the manifests is tokenized (``SyllableTokenizer.codes_and_spans``: the codes and
each token's real span) and analysed by the ``speechtok-fast`` codec (``tts.data.frame_targets``);
each token's real frames are time-warped onto the frames its duration code gives
(``decoder.syllable_frames`` + ``warp_targets``), so training sees the expansion decoding uses.
The items are cached in ``OUT/cache/`` (keyed by the rows and the centroids), so reruns start at
once. The loop: AdamW, batches of utterances of similar length, MSE on the standardized features
and log-F0, BCE on voicing; with a validation manifest the exported weights are those of the
step with the lowest validation loss (checked every ``valid_every`` steps); a CPU-time budget (``--minutes``, counted over resumed sessions, the
learning rate follows it down a cosine), a checkpoint (``OUT/checkpoint.pt``) every
``--checkpoint-every`` steps and at the end, rerunning the same command resumes; ``log.jsonl``
has the losses; ``OUT/decoder_kK.{safetensors,json}`` is the loadable decoder (``--install``
copies it into ``speechtok/assets/syllables``).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..fsutil import file_digest, write_atomic
from .decoder import CODEC, SyllableDecoder, collate, decoder_paths, syllable_frames, warp_targets


def _rows(manifests) -> list:
    from ..data.manifest import list_inputs
    from ..data.forced_align import english_with_text

    return [u for m in manifests for u in english_with_text(list_inputs(m))]


def build_items(manifests, tok, cache: Path | None, progress: bool = True) -> list[dict]:
    """Per utterance: id, speaker, codes (3, n), frames per token (n,), warped raw targets (T, D + 2)."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..codec.catalogue import resolve
    from ..tts.data import frame_targets

    rows = _rows(manifests)
    h = hashlib.sha256(f"{tok.model_id}|{CODEC}|warp 1".encode())
    for u in rows:
        h.update(f"{u.id}\t{u.path}\t{u.speaker}\n".encode())
    f = cache / f"items-{h.hexdigest()[:16]}.pt" if cache else None
    if f is not None and f.is_file():
        return torch.load(f, weights_only=False)
    codec = resolve(CODEC).codec
    items = []
    for u in tqdm(rows, desc="tokens + frames", unit="utt", disable=not progress):
        wav, _ = load_audio(u.path, 16000)
        codes, spans = tok.codes_and_spans(wav)
        target = frame_targets(codec, wav)
        dur = syllable_frames(codes[1], len(target))
        items.append({"id": u.id, "speaker": u.speaker or "speaker", "codes": codes, "durations": dur,
                      "target": warp_targets(target, spans, dur)})
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(f, lambda t: torch.save(items, t), suffix=".pt")
    return items


def _batches(items: list[dict], frames_per_batch: int, rng: random.Random) -> list[list[dict]]:
    """Items of similar length, about ``frames_per_batch`` frames a batch, in random order."""
    order = sorted(items, key=lambda it: len(it["target"]) + rng.random() * 20)
    out, cur, n = [], [], 0
    for it in order:
        if cur and n + len(it["target"]) > frames_per_batch:
            out.append(cur)
            cur, n = [], 0
        cur.append(it)
        n += len(it["target"])
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def _tensors(batch, speakers, mean, std):
    codes, spk, dur = collate([(it["codes"], speakers.index(it["speaker"]), it["durations"]) for it in batch])
    T = max(len(it["target"]) for it in batch)
    tgt = torch.zeros(len(batch), T, len(mean))
    for i, it in enumerate(batch):
        tgt[i, : len(it["target"])] = (torch.from_numpy(it["target"]) - mean) / std
    return codes, spk, dur, tgt, T


def losses(model, batch, speakers, mean, std) -> dict:
    codes, spk, dur, tgt, T = _tensors(batch, speakers, mean, std)
    y, fmask = model(codes, spk, dur, T)
    fm = fmask.squeeze(-1)
    nf = fm.sum().clamp(min=1)
    feat = (((y[..., :-1] - tgt[..., :-1]) ** 2).mean(-1) * fm).sum() / nf
    vuv = (F.binary_cross_entropy_with_logits(y[..., -1], (tgt[..., -1] > 0.5).float(), reduction="none") * fm).sum() / nf
    return {"loss": feat + vuv, "feat": feat, "vuv": vuv}


def target_stats(items) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of the raw targets over all frames; the voicing column stays 0/1 (0, 1)."""
    x = np.concatenate([it["target"] for it in items])
    mean, std = x.mean(0), x.std(0) + 1e-4
    mean[-1], std[-1] = 0.0, 1.0
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32))


def export(model, cfg: dict, mean, std, out: Path, k: int | str) -> Path:
    from safetensors.torch import save_file

    w, c = (out / p.name for p in decoder_paths(k))
    tensors = {n: t.detach().contiguous() for n, t in model.state_dict().items()}
    tensors.update(target_mean=mean, target_std=std)
    write_atomic(w, lambda t: save_file(tensors, str(t)), suffix=".safetensors")
    write_atomic(c, lambda t: Path(t).write_text(json.dumps(cfg, indent=1) + "\n"), suffix=".json")
    for p in (w, c):
        p.chmod(0o644)
    return w


def unit_tokenizer(units: str = "syllables", k: int = 1024, teacher: str | None = None):
    """The tokenizer whose codes a decoder learns: ``syllables`` (its ``k``) or ``phones`` (the
    phone units of a shipped ``teacher`` version, None = the default)."""
    if units == "phones":
        from .phone_units import PhoneUnitTokenizer

        return PhoneUnitTokenizer(teacher=teacher)
    if units != "syllables":
        raise ValueError(f"unknown units {units!r}: syllables or phones")
    from .tokenizer import SyllableTokenizer

    return SyllableTokenizer(k)


def train(manifests, out: str | Path, valid: str | None = None, k: int = 1024, cpu_minutes: float = 20.0,
          hidden: int = 128, frame_layers: int = 6, lr: float = 2e-3, frames_per_batch: int = 4000,
          dropout: float = 0.3, token_dropout: float = 0.1, weight_decay: float = 0.01,
          default_speaker: str | None = None, valid_every: int = 100, checkpoint_every: int = 100,
          max_steps: int = 0, seed: int = 0, progress: bool = True, units: str = "syllables",
          teacher: str | None = None) -> Path:
    """Train (or resume) a decoder in ``out``; returns the exported weights' path."""
    from tqdm import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = unit_tokenizer(units, k, teacher)
    cache = out / "cache"
    items = build_items(manifests, tok, cache, progress)
    vitems = build_items([valid], tok, cache, progress) if valid else []
    speakers = sorted({it["speaker"] for it in items})
    if default_speaker is None:  # the speaker with the most training audio
        secs = {s: sum(len(it["target"]) for it in items if it["speaker"] == s) for s in speakers}
        default_speaker = max(speakers, key=lambda s: secs[s])
    vitems = [it for it in vitems if it["speaker"] in speakers]
    model_cfg = {"n_content": tok.k + 1, "n_speakers": len(speakers), "out_dim": int(items[0]["target"].shape[1]),
                 "hidden": hidden, "token_layers": 2, "frame_layers": frame_layers, "kernel": 5, "dropout": dropout,
                 "token_dropout": token_dropout}
    torch.manual_seed(seed)
    model = SyllableDecoder(**model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=weight_decay)
    ckpt = out / "checkpoint.pt"
    step, cpu0, wall0 = 0, 0.0, 0.0
    best = {"valid_loss": float("inf"), "step": 0, "model": None}  # the weights exported with validation
    if ckpt.is_file():
        s = torch.load(ckpt, weights_only=False)
        model.load_state_dict(s["model"])
        opt.load_state_dict(s["opt"])
        step, cpu0, wall0 = s["step"], s["cpu_seconds"], s["wall_seconds"]
        mean, std = s["mean"], s["std"]
        best = s.get("best", best)
        print(f"resuming at step {step} ({cpu0 / 60:.1f} CPU-min spent)", file=sys.stderr)
    else:
        mean, std = target_stats(items)
    rng = random.Random(seed + step)
    t_cpu, t_wall = time.process_time() - cpu0, time.time() - wall0
    cpu = lambda: time.process_time() - t_cpu  # noqa: E731
    frames = sum(len(it["target"]) for it in items)
    cfg = {"model": model_cfg, "speakers": speakers, "default_speaker": default_speaker, "codec": CODEC,
           "centroids": tok.model_id, "k": tok.k, "units": tok.name,
           "training": {"data": [str(m) for m in manifests], "valid": valid, "utterances": len(items),
                        "minutes": round(frames / 50 / 60, 1), "cpu_minutes_budget": cpu_minutes, "lr": lr,
                        "weight_decay": weight_decay, "frames_per_batch": frames_per_batch, "seed": seed}}
    log = (out / "log.jsonl").open("a")

    def save():
        cfg["training"].update(steps=step, cpu_minutes=round(cpu() / 60, 2))
        state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "cpu_seconds": cpu(),
                 "wall_seconds": time.time() - t_wall, "mean": mean, "std": std, "best": best}
        write_atomic(ckpt, lambda t: torch.save(state, t), suffix=".pt")
        if best["model"] is None:
            export(model, cfg, mean, std, out, tok.decoder_key)
        else:
            cfg["training"].update(exported_step=best["step"], exported_valid_loss=round(best["valid_loss"], 4))
            keep = SyllableDecoder(**model_cfg)
            keep.load_state_dict(best["model"])
            export(keep, cfg, mean, std, out, tok.decoder_key)

    def validate() -> float:
        if not vitems:
            return float("nan")
        model.eval()
        with torch.no_grad():
            tot = [losses(model, vitems[i : i + 8], speakers, mean, std)["loss"].item() for i in range(0, len(vitems), 8)]
        model.train()
        return float(np.mean(tot))

    bar = tqdm(desc="train-decoder", unit="step", initial=step, disable=not progress, dynamic_ncols=True)
    model.train()
    done = False
    while not done:
        for batch in _batches(items, frames_per_batch, rng):
            frac = min(1.0, cpu() / (cpu_minutes * 60)) if cpu_minutes else 0.0
            for g in opt.param_groups:
                g["lr"] = lr * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
            ls = losses(model, batch, speakers, mean, std)
            opt.zero_grad()
            ls["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            bar.update(1)
            rec = {"step": step, "cpu_minutes": round(cpu() / 60, 3), **{n: round(v.item(), 4) for n, v in ls.items()}}
            done = (cpu_minutes and cpu() >= cpu_minutes * 60) or (max_steps and step >= max_steps)
            if valid_every and (step % valid_every == 0 or done):
                rec["valid_loss"] = round(validate(), 4)
                if rec["valid_loss"] < best["valid_loss"]:
                    best = {"valid_loss": rec["valid_loss"], "step": step,
                            "model": {n: t.detach().clone() for n, t in model.state_dict().items()}}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            bar.set_postfix(loss=f"{rec['loss']:.3f}", cpu_min=f"{rec['cpu_minutes']:.1f}",
                            **({"valid": f"{rec['valid_loss']:.3f}"} if "valid_loss" in rec else {}))
            if step % checkpoint_every == 0 or done:
                save()
            if done:
                break
    bar.close()
    log.close()
    return out / decoder_paths(tok.decoder_key)[0].name


def install(out: str | Path, k: int | str = 1024) -> list[Path]:
    """Copy a run's exported decoder into ``speechtok/assets/syllables``."""
    dst = []
    for p in decoder_paths(k):
        src = Path(out) / p.name
        shutil.copyfile(src, p)
        p.chmod(0o644)
        dst.append(p)
    print(f"installed {dst[0]} ({file_digest(dst[0])})", file=sys.stderr)
    return dst
