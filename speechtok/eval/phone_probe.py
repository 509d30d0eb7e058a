"""Probe: how easily can phones be read off frozen tokens?

A small recognizer — one embedding table per codebook (summed), repeated up to >= 50 frames
per second (so CTC has room at 12.5 Hz too), a 1-D conv and a 2-layer BiGRU, a CTC head over
39 phones + blank — is trained from scratch on the tokens of training utterances for a fixed
budget (``steps`` × ``batch`` utterances, the same for every tokenizer), then its greedy
phone error rate (PER) is measured on held-out utterances. Lower is better; the budget is
small on purpose: it measures how *accessible* phonetic content is, not how much a big model
could dig out.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..teachers.phone_ctc import BLANK, ctc_greedy, phone_error_rate
from ..data.phones import NUM_PHONES

MAX_FRAME_RATE = 200.0  # sample-level "tokens" (pcm16) are out of a small probe's reach


@dataclass
class ProbeItem:
    codes: np.ndarray  # [codebook, frame] ints
    phones: list[int]  # reference phone ids, no silence


class TokenProbe(nn.Module):
    def __init__(self, codebook_sizes: tuple[int, ...], frame_rate: float, dim: int = 128):
        super().__init__()
        if frame_rate > MAX_FRAME_RATE:
            raise ValueError(f"a token probe needs frame rates <= {MAX_FRAME_RATE:g} Hz, got {frame_rate:g}")
        self.embed = nn.ModuleList(nn.Embedding(int(s), dim) for s in codebook_sizes)
        self.repeat = max(1, math.ceil(50.0 / frame_rate))
        self.conv = nn.Conv1d(dim, dim, 5, padding=2)
        self.gru = nn.GRU(dim, dim // 2, 2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(dim, NUM_PHONES + 1)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """``(batch, codebooks, frames)`` -> CTC log-probs ``(batch, frames * repeat, 41)``."""
        x = sum(e(codes[:, k]) for k, e in enumerate(self.embed))
        x = x.repeat_interleave(self.repeat, dim=1)
        x = x + F.gelu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        return self.head(self.gru(x)[0]).log_softmax(-1)


def _pad(items: list[ProbeItem]) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(it.codes.shape[1] for it in items)
    codes = np.zeros((len(items), items[0].codes.shape[0], T), np.int64)
    for i, it in enumerate(items):
        codes[i, :, : it.codes.shape[1]] = it.codes
    return torch.from_numpy(codes), torch.tensor([it.codes.shape[1] for it in items])


def run_probe(
    train: list[ProbeItem],
    test: list[ProbeItem],
    codebook_sizes: tuple[int, ...],
    frame_rate: float,
    steps: int = 400,
    batch: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Train a TokenProbe on ``train`` for ``steps`` and return ``{"per", "steps", ...}`` on ``test``."""
    if not train or not test:
        raise ValueError(f"the probe needs training and test utterances (got {len(train)} and {len(test)})")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = TokenProbe(codebook_sizes, frame_rate)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    t0 = time.time()
    for step in range(1, steps + 1):
        chosen = [train[i] for i in rng.integers(0, len(train), batch)]
        codes, lens = _pad(chosen)
        logp = model(codes)
        tgt = torch.tensor([p for it in chosen for p in it.phones])
        tlen = torch.tensor([len(it.phones) for it in chosen])
        loss = F.ctc_loss(logp.transpose(0, 1), tgt, lens * model.repeat, tlen, blank=BLANK, zero_infinity=True)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step(), sched.step()
        if progress and (step % 100 == 0 or step == steps):
            print(f"probe step {step}/{steps} ctc {loss.item():.3f} {time.time() - t0:.0f}s", file=sys.stderr, flush=True)
    model.eval()
    hyps = []
    with torch.no_grad():
        for it in test:
            logp = model(torch.from_numpy(np.asarray(it.codes, np.int64))[None])[0]
            hyps.append(ctc_greedy(logp.argmax(-1).tolist()))
    return {"per": phone_error_rate([it.phones for it in test], hyps), "steps": steps, "batch": batch,
            "train_utts": len(train), "test_utts": len(test)}
