"""A small phone recognizer (CTC), trained on forced and synthetic alignments, then used frozen
as an ASR-encoder teacher: speechtok's offline stand-in for Whisper in the LM-SPT objective.

    wav (batch, samples) 16 kHz
    -> log-mel (80 bands, 25 ms windows every 10 ms, per-utterance normalised)
    -> strided conv to 50 Hz -> residual conv blocks -> 2-layer BiGRU   = ``encode``: (batch, frames, dim)
    -> CTC head over 39 phones + blank, and a frame head over 40 classes (phones + SIL)

Everything is torch and differentiable w.r.t. the input audio, so a codec loss can compare
``encode(decoded)`` with ``encode(original)``. Frame j is centred on sample ``320 j + 160``
(frame i covers ``[i*320, (i+1)*320)`` as everywhere in speechtok), ``ceil(samples / 320)`` frames.

Training (``train``) mixes the CTC loss on phone sequences (silence dropped) with frame-level
cross-entropy on the aligned labels, which makes it converge in minutes on a CPU::

    python -m speechtok.teachers.phone_ctc --align data/asterisk/alignments/en.jsonl \\
        data/synthetic/alignments.jsonl --valid-ids data/asterisk/test.jsonl --out runs/phone_ctc
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..data.phones import NUM_PHONES, SAMPLE_RATE, num_frames_for, phone_sequence, segments_from_rows, segments_to_frames

BLANK = NUM_PHONES  # CTC blank after the 40 labels; SIL (0) is never a CTC target
ASSET = Path(__file__).resolve().parent.parent / "assets" / "phone_ctc"
FRAME_RATE = 50.0


@dataclass
class PhoneCTCConfig:
    n_mels: int = 80
    dim: int = 192
    conv_blocks: int = 3
    gru_layers: int = 2


class LogMel(nn.Module):
    """``(batch, samples)`` -> ``(batch, n_mels, ceil(samples/160))`` log-mel, frame m centred
    on sample ``160 m + 80``, normalised per utterance and band (gain-invariant)."""

    def __init__(self, n_mels: int = 80):
        super().__init__()
        from ..dsp import htk_mel_filterbank

        self.register_buffer("fb", torch.from_numpy(htk_mel_filterbank(n_mels, 512)), persistent=False)
        self.register_buffer("window", torch.hann_window(400), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        n = math.ceil(wav.shape[-1] / 160)
        # stft centres its 400-sample window in each 512-sample frame (offset 56): a left pad of
        # 176 puts frame m's window at samples [160 m - 120, 160 m + 280)
        x = F.pad(wav, (176, (n - 1) * 160 + 512 - 176 - wav.shape[-1]))
        spec = torch.stft(x, 512, hop_length=160, win_length=400, window=self.window, center=False, return_complex=True)
        mel = torch.log(torch.einsum("mf,bft->bmt", self.fb, spec.abs() ** 2) + 1e-6)
        return (mel - mel.mean(-1, keepdim=True)) / (mel.std(-1, keepdim=True, correction=0) + 1e-5)


class ConvBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dw = nn.Conv1d(dim, dim, 5, padding=2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pw = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):  # (batch, frames, dim)
        return x + self.pw(self.norm(self.dw(x.transpose(1, 2)).transpose(1, 2)))


class PhoneCTC(nn.Module):
    def __init__(self, config: PhoneCTCConfig | None = None):
        super().__init__()
        self.config = c = config or PhoneCTCConfig()
        self.mel = LogMel(c.n_mels)
        # kernel 4, stride 2, pad 1: frame j sees mel frames 2j-1..2j+2, centred on sample 320 j + 160
        self.down = nn.Conv1d(c.n_mels, c.dim, 4, stride=2, padding=1)
        self.blocks = nn.Sequential(*[ConvBlock(c.dim) for _ in range(c.conv_blocks)])
        self.gru = nn.GRU(c.dim, c.dim // 2, c.gru_layers, batch_first=True, bidirectional=True)
        self.ctc_head = nn.Linear(c.dim, NUM_PHONES + 1)
        self.frame_head = nn.Linear(c.dim, NUM_PHONES)

    @property
    def dim(self) -> int:
        return self.config.dim

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """``(batch, samples)`` at 16 kHz -> ``(batch, ceil(samples/320), dim)`` features (50 Hz)."""
        n = num_frames_for(wav.shape[-1], FRAME_RATE)
        mel = self.mel(wav)
        mel = F.pad(mel, (0, max(0, 3 - mel.shape[-1])), mode="replicate")  # clips under 20 ms
        x = self.down(mel).transpose(1, 2)
        x = F.pad(x, (0, 0, 0, max(0, n - x.shape[1])))[:, :n]
        return self.gru(self.blocks(x))[0]

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (CTC log-probs ``(batch, frames, 41)``, frame logits ``(batch, frames, 40)``)."""
        h = self.encode(wav)
        return self.ctc_head(h).log_softmax(-1), self.frame_head(h)

    @torch.no_grad()
    def recognize(self, wav: np.ndarray) -> list[int]:
        """Greedy CTC decoding of one ``(samples,)`` waveform -> phone ids (no SIL)."""
        logp, _ = self(torch.as_tensor(wav, dtype=torch.float32)[None])
        return ctc_greedy(logp[0].argmax(-1).tolist())

    # ---- files --------------------------------------------------------------------------
    def save(self, folder: str | os.PathLike, meta: dict | None = None) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / ".model.safetensors.tmp"
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(tmp))
        tmp.replace(folder / "model.safetensors")
        (folder / "config.json").write_text(json.dumps({"config": asdict(self.config), **(meta or {})}, indent=1))

    @classmethod
    def load(cls, folder: str | os.PathLike | None = None, frozen: bool = True) -> "PhoneCTC":
        """From a folder written by ``save`` (default: the small checkpoint shipped in assets)."""
        from safetensors.torch import load_file

        folder = Path(folder) if folder else ASSET
        if not (folder / "model.safetensors").exists():
            raise FileNotFoundError(f"{folder}: no model.safetensors (train one with python -m speechtok.teachers.phone_ctc)")
        cfg = json.loads((folder / "config.json").read_text())["config"]
        model = cls(PhoneCTCConfig(**cfg))
        model.load_state_dict(load_file(str(folder / "model.safetensors")))
        if frozen:
            model.eval().requires_grad_(False)
        return model


def ctc_greedy(best: list[int]) -> list[int]:
    """Best path -> labels: merge repeats, drop blanks."""
    out, prev = [], None
    for b in best:
        if b != prev and b != BLANK:
            out.append(b)
        prev = b
    return out


def phone_error_rate(refs: list[list[int]], hyps: list[list[int]]) -> float:
    """Σ edit distance / Σ reference length over utterances."""
    from ..dsp import edit_distance

    return sum(edit_distance(r, h) for r, h in zip(refs, hyps)) / max(1, sum(len(r) for r in refs))


# ---- training --------------------------------------------------------------------------------
def load_aligned(rows: list[dict]) -> list[tuple[np.ndarray, list]]:
    """Alignment rows -> [(int16 wav at 16 kHz, segments)] (int16 halves the memory)."""
    from ..audio import load_audio

    out = []
    for r in rows:
        wav, _ = load_audio(r["path"], SAMPLE_RATE)
        out.append(((np.clip(wav, -1, 1) * 32767).astype(np.int16), segments_from_rows(r["phones"])))
    return out


def make_batch(items, rng: np.random.Generator, crop: float):
    """Random crops of ``crop`` seconds -> (wav ``(B, S)``, frame labels ``(B, F)``, CTC targets, lengths)."""
    S = int(crop * SAMPLE_RATE)
    wavs, labels, targets, lengths = [], [], [], []
    for wav, segs in items:
        start = int(rng.integers(0, max(1, len(wav) - S)))
        w = wav[start : start + S].astype(np.float32) / 32767
        w = np.pad(w, (0, S - len(w)))
        lab = segments_to_frames(segs, FRAME_RATE, num_frames_for(S, FRAME_RATE), offset=start / SAMPLE_RATE)
        # a phone is a CTC target when its centre lies inside the crop
        t0, t1 = start / SAMPLE_RATE, (start + S) / SAMPLE_RATE
        seq = phone_sequence([s for s in segs if t0 <= (s.start + s.end) / 2 < min(t1, len(wav) / SAMPLE_RATE)])
        wavs.append(w * rng.uniform(0.3, 1.5))  # gain jitter
        labels.append(lab)
        targets.extend(seq)
        lengths.append(len(seq))
    return torch.from_numpy(np.stack(wavs)), torch.from_numpy(np.stack(labels)), torch.tensor(targets), torch.tensor(lengths)


def evaluate(model: PhoneCTC, items, max_items: int = 200) -> float:
    model.eval()
    refs = [phone_sequence(segs) for _, segs in items[:max_items]]
    hyps = [model.recognize(w.astype(np.float32) / 32767) for w, _ in items[:max_items]]
    model.train()
    return phone_error_rate(refs, hyps)


def train(
    train_rows: list[dict],
    valid_rows: list[dict],
    out: str | os.PathLike,
    steps: int = 1500,
    batch: int = 16,
    crop: float = 3.0,
    lr: float = 2e-3,
    frame_weight: float = 0.5,
    seed: int = 0,
    config: PhoneCTCConfig | None = None,
    log_every: int = 100,
    sample_weights: Sequence[float] | None = None,
) -> PhoneCTC:
    """Train from alignment rows; resumes from ``out/state.pt`` (written every ``log_every`` steps).

    ``sample_weights``: one per training row, how likely a batch draws it (normalised; None =
    uniform over rows)."""
    torch.manual_seed(seed)
    out = Path(out)
    model = PhoneCTC(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    step, state = 0, out / "state.pt"
    if state.exists():
        s = torch.load(state, weights_only=True)
        model.load_state_dict(s["model"]), opt.load_state_dict(s["opt"]), sched.load_state_dict(s["sched"])
        step = int(s["step"])
        print(f"resuming at step {step}", file=sys.stderr)
    items, valid = load_aligned(train_rows), load_aligned(valid_rows)
    probs = None
    if sample_weights is not None:
        if len(sample_weights) != len(items):
            raise ValueError(f"{len(sample_weights)} sample weights for {len(items)} training rows")
        probs = np.asarray(sample_weights, np.float64)
        probs = probs / probs.sum()
    rng = np.random.default_rng(seed + step)
    t = time.time()
    model.train()
    while step < steps:
        chosen = [items[i] for i in (rng.integers(0, len(items), batch) if probs is None else rng.choice(len(items), batch, p=probs))]
        wav, lab, tgt, tlen = make_batch(chosen, rng, crop)
        logp, logits = model(wav)
        flen = torch.full((len(wav),), logp.shape[1], dtype=torch.long)
        ctc = F.ctc_loss(logp.transpose(0, 1), tgt, flen, tlen, blank=BLANK, zero_infinity=True)
        ce = F.cross_entropy(logits.reshape(-1, NUM_PHONES), lab.reshape(-1))
        loss = ctc + frame_weight * ce
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step(), sched.step()
        step += 1
        if step % log_every == 0 or step == steps:
            msg = f"step {step}/{steps} ctc {ctc.item():.3f} ce {ce.item():.3f} {time.time() - t:.0f}s"
            if step % (log_every * 5) == 0 or step == steps:
                msg += f" valid PER {evaluate(model, valid):.3f}"
            print(msg, file=sys.stderr, flush=True)
            out.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "step": step}, out / ".state.tmp")
            (out / ".state.tmp").replace(state)
    per = evaluate(model, valid)
    model.save(out, {"steps": steps, "train_utts": len(items), "valid_utts": len(valid), "valid_per": round(per, 4)})
    return model


def export_half(run: str | os.PathLike, dest: str | os.PathLike, command: str | None = None) -> Path:
    """A trained folder -> ``dest`` with the weights in float16 (how the shipped teachers are
    stored: half the size; ``load`` reads them back into float32) and its ``config.json`` plus
    ``command`` and ``dtype``."""
    from safetensors.torch import load_file, save_file

    run, dest = Path(run), Path(dest)
    weights = load_file(str(run / "model.safetensors"))
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / ".model.safetensors.tmp"
    save_file({k: v.half().contiguous() for k, v in weights.items()}, str(tmp))
    tmp.replace(dest / "model.safetensors")
    meta = json.loads((run / "config.json").read_text())
    if command:
        meta["command"] = command
    meta["dtype"] = "float16 on disk"
    (dest / "config.json").write_text(json.dumps(meta, indent=1))
    return dest


def main(argv=None) -> int:
    from ..data.forced_align import read_alignments

    ap = argparse.ArgumentParser(description="Train the small CTC phone recognizer on alignment files.")
    ap.add_argument("--align", nargs="+", required=True, help="alignment .jsonl files (align_manifest / make_synthetic_set)")
    ap.add_argument("--valid-ids", required=True, help="manifest whose utterance ids are held out for validation")
    ap.add_argument("--exclude-ids", nargs="+", default=[], help="manifests whose utterance ids are neither trained nor "
                                                                    "validated on (a test split)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, help="torch threads (on a busy shared machine 1 is much faster)")
    ap.add_argument("--export", help="also write the trained model here in float16 (as the shipped teachers are stored)")
    ap.add_argument("--shares", nargs="+", type=float,
                    help="one per --align file: the share of each batch drawn from it (default: in proportion to "
                         "its size), e.g. to keep a small real-speech set from drowning in synthetic speech")
    ap.add_argument("--dim", type=int, default=PhoneCTCConfig.dim, help="network width (default %(default)s)")
    ap.add_argument("--gru-layers", type=int, default=PhoneCTCConfig.gru_layers)
    ap.add_argument("--conv-blocks", type=int, default=PhoneCTCConfig.conv_blocks)
    args = ap.parse_args(argv)
    if args.dim < 8 or args.dim % 2:
        ap.error(f"--dim must be an even number of at least 8, got {args.dim}")
    if args.shares is not None and len(args.shares) != len(args.align):
        ap.error(f"--shares takes one value per --align file ({len(args.align)}), got {len(args.shares)}")
    if args.shares is not None and (min(args.shares) < 0 or sum(args.shares) <= 0):
        ap.error("--shares must be non-negative and not all zero")
    if args.threads:
        torch.set_num_threads(args.threads)
    from ..data.manifest import read_manifest

    held = {u.id for u in read_manifest(args.valid_ids)}
    rows, source = {}, {}
    for i, p in enumerate(args.align):
        got = read_alignments(p)
        if not got:
            raise SystemExit(f"{p}: no aligned utterances")
        clash = [k for k in got if k in rows]
        if clash:
            raise SystemExit(f"{p}: utterance id {clash[0]!r} (and {len(clash) - 1} more) is also in "
                             f"{args.align[source[clash[0]]]}; ids must be unique across --align files")
        rows.update(got)
        source.update({k: i for k in got})
    excluded = {u.id for m in args.exclude_ids for u in read_manifest(m)}
    rows = {k: r for k, r in rows.items() if k not in excluded}
    tr = [r for k, r in rows.items() if k not in held]
    va = [r for k, r in rows.items() if k in held]
    weights = None
    if args.shares is not None:
        counts = np.bincount([source[r["id"]] for r in tr], minlength=len(args.align))
        weights = [args.shares[source[r["id"]]] / max(1, counts[source[r["id"]]]) for r in tr]
        print("shares: " + ", ".join(f"{p} {s:g} ({c} utts)" for p, s, c in zip(args.align, args.shares, counts)), file=sys.stderr)
    print(f"{len(tr)} training, {len(va)} validation utterances", file=sys.stderr)
    config = PhoneCTCConfig(dim=args.dim, conv_blocks=args.conv_blocks, gru_layers=args.gru_layers)
    train(tr, va, args.out, steps=args.steps, batch=args.batch, sample_weights=weights, config=config)
    if args.export:
        argv_used = sys.argv[1:] if argv is None else list(argv)
        export_half(args.out, args.export, "python -m speechtok.teachers.phone_ctc " + " ".join(argv_used))
        print(f"float16 copy in {args.export}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
