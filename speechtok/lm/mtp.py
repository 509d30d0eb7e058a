"""Multi-token-prediction heads for a trained LM (``speechtok lm mtp``): drafts for speculative decoding.

The LM stays frozen; only the heads (``model.MTPHeads``) learn, from the LM's last hidden states,
to predict the ids 2, 3, … steps ahead. That costs a fraction of the LM's own training (no
gradient through the backbone), so any trained run folder can get heads later.

What they learn from: the training shards, or (``distill`` > 0, Medusa-2's self-distillation)
the LM's own greedy continuations of prompts taken from them. Greedy speculative decoding keeps a
drafted id only when it is the LM's own greedy choice, so heads that learned the LM's habits
(its loops included) are kept far more often than heads that learned the data.
They are saved beside the LM as ``RUN/mtp.safetensors`` and ``SpeechLM.load`` picks them up
(they take the place of heads trained jointly by ``model.mtp_heads``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .model import MTPHeads

MTP_FILE = "mtp.safetensors"


def load_mtp_heads(run_dir: str | Path, lm) -> MTPHeads | None:
    """The heads in ``run_dir/mtp.safetensors`` for ``lm`` (a ``SpeechLM``), or None without the file."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(run_dir) / MTP_FILE
    if not path.exists():
        return None
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != "speechtok-lm-mtp":
        raise ValueError(f"{path}: not MTP heads written by `speechtok lm mtp`")
    heads = MTPHeads(lm.cfg.model.hidden, lm.layout.vocab_sizes, int(meta["heads"]))
    try:
        heads.load_state_dict(load_file(str(path)))
    except RuntimeError as e:
        raise ValueError(f"{path}: these heads do not fit the LM in {run_dir} ({e})") from None
    return heads.to(lm.device).eval()


def save_mtp_heads(run_dir: str | Path, heads: MTPHeads, info: dict) -> Path:
    from safetensors.torch import save_file

    from ..fsutil import write_atomic

    path = Path(run_dir) / MTP_FILE
    state = {k: v.detach().float().cpu().contiguous() for k, v in heads.state_dict().items()}
    meta = {"format": "speechtok-lm-mtp", "heads": str(heads.num_heads), **{k: str(v) for k, v in info.items()}}
    write_atomic(path, lambda tmp: save_file(state, str(tmp), metadata=meta))
    return path


@torch.no_grad()
def head_accuracy(lm, heads: MTPHeads, codes_list: list[np.ndarray]) -> list[float]:
    """Top-1 accuracy of each head against the data's own ids (content targets only, stream 0):
    a rough forecast of how often its drafts will be kept."""
    hits = np.zeros(heads.num_heads)
    total = np.zeros(heads.num_heads)
    ctx = lm.cfg.model.context
    for codes in codes_list:
        seq = lm.layout.wrap(lm.layout.encode(codes))[:, : ctx + 1]
        ids = torch.from_numpy(seq)[None].to(lm.device)
        h, _ = lm.model.hidden_states(ids[:, :, :-1])
        content = torch.from_numpy(lm.layout.is_content(seq)).to(lm.device)
        n = h.shape[1]
        for d, logits in enumerate(heads(h), start=1):
            if n - d <= 0:
                break
            ok = (logits[0][0, : n - d].argmax(-1) == ids[0, 0, 1 + d :]) & content[0, 1 + d :]
            hits[d - 1] += float(ok.sum())
            total[d - 1] += float(content[0, 1 + d :].sum())
    return [float(h / max(1.0, t)) for h, t in zip(hits, total)]


def greedy_corpus(lm, data: str, n: int, prompt_frames: int = 25, seed: int = 0, progress: bool = True) -> list[dict]:
    """``n`` rows ``{"codes"}``: a prompt of ``prompt_frames`` frames from ``data`` (shuffled) and
    the LM's greedy continuation of it, about one context of AR steps long."""
    from .data import iter_rows

    lay = lm.layout
    frames = max(8, lm.cfg.model.context // (lay.num_codebooks if lay.kind == "flat" else 1))
    out = []
    bar = tqdm(total=n, desc="lm mtp: greedy continuations", disable=not progress, dynamic_ncols=True)
    for row in iter_rows(data, seed=seed, shuffle_buffer=256, limit=n):
        prompt = row["codes"][:, :prompt_frames]
        cont = lm.generate(prompt, frames, temperature=0)
        full = np.zeros((prompt.shape[0], frames), dtype=np.int64)  # codebooks the layout leaves out stay 0
        full[lay.skip : lay.skip + cont.shape[0]] = cont
        out.append({"codes": np.concatenate([prompt, full], axis=1)})
        bar.update(1)
    bar.close()
    if not out:
        raise ValueError(f"{data}: no rows to take prompts from")
    return out


def train_mtp_heads(lm, heads: int = 4, steps: int = 300, data: str | None = None, valid: str | None = None,
                    distill: int = 0, batch_size: int = 8, lr: float = 2e-3, seed: int = 0,
                    progress: bool = True) -> tuple[MTPHeads, dict]:
    """Fit ``heads`` MTP heads on the frozen ``lm`` (a ``SpeechLM``) over ``data`` (a token folder;
    default: the LM's training shards), or with ``distill`` > 0 over that many greedy
    continuations of prompts from it (``greedy_corpus``). Returns the heads and a summary (final
    loss, per-head accuracy on ``valid`` when given, seconds)."""
    from ..train.engine import lr_at
    from .data import PackedStream, iter_rows, token_folder_info

    data = data or lm.cfg.data.train
    info = token_folder_info(data)
    if info["tokenizer"] != lm.tokenizer:
        raise ValueError(f"{data}: tokenized with {info['tokenizer']}, but the LM models {lm.tokenizer}")
    if heads < 1 or steps < 1:
        raise ValueError("MTP heads: heads and steps must be >= 1")
    start = time.time()
    source = greedy_corpus(lm, data, distill, seed=seed, progress=progress) if distill else data
    torch.manual_seed(seed)
    model = lm.model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    mtp = MTPHeads(lm.cfg.model.hidden, lm.layout.vocab_sizes, heads).init_from(model.heads).to(lm.device).train()
    opt = torch.optim.AdamW(mtp.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    stream = PackedStream(source, lm.layout, lm.cfg.model.context, batch_size, seed=seed)
    batches = stream.batches()
    loss_avg = None
    bar = tqdm(total=steps, desc="lm mtp", disable=not progress, dynamic_ncols=True)
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, lr, max(1, steps // 10), steps)
        batch = next(batches)
        ids = torch.from_numpy(batch).to(lm.device)
        weight = torch.from_numpy(stream.weight(batch)).to(lm.device)
        with torch.no_grad():
            h, _ = model.hidden_states(ids[:, :, :-1])
        loss = mtp.loss(h, ids, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(mtp.parameters(), 1.0)
        opt.step()
        value = float(loss.detach())
        loss_avg = value if loss_avg is None else 0.95 * loss_avg + 0.05 * value
        bar.update(1)
        bar.set_postfix(loss=f"{loss_avg:.3f}")
    bar.close()
    mtp.eval()
    summary = {"heads": heads, "steps": steps, "data": str(data), "distill": distill, "loss": round(loss_avg or 0.0, 4),
               "seconds": round(time.time() - start, 1)}
    if valid:
        rows = list(iter_rows(valid, limit=64))
        summary["valid_accuracy"] = [round(a, 4) for a in head_accuracy(lm, mtp, [r["codes"] for r in rows])]
    return mtp, summary
