"""Train a token LM on Lightning Fabric (the codec's engine: CPU now, GPUs and nodes by config).

One readable loop: stream packed windows from the training shards, AdamW with warm-up and cosine
decay, checkpoints that resume exactly (weights, optimizer, step, RNG; the data stream is replayed
to the same position), validation NLL on held-out shards. See ``speech_lm.py`` for the run folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from ..train.engine import (Budget, after_step, export_run, lr_at, make_fabric, progress_bar, restore_rng, rng_state,
                            save_fabric_checkpoint, set_lr, unwrap)
from .config import LMRunConfig, save_yaml
from .data import PackedStream, iter_rows, token_folder_info
from .model import TokenLM
from .speech_lm import SpeechLM, make_layout


def folder_ids(folder) -> set[str]:
    """Utterance ids of a token folder (its shards' ``id`` column only)."""
    import pyarrow.parquet as pq

    from ..corpus.shards import shard_files

    return {i for f in shard_files(Path(folder)) for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()}


def learn_bpe(cfg: LMRunConfig, path: Path, progress: bool = False):
    """Learn acoustic BPE merges on the first ``data.bpe_max_rows`` training rows; save to ``path``."""
    from .bpe import AcousticBPE
    from .layout import Layout

    base = make_layout(cfg)
    base = Layout(base.kind, base.codebook_sizes, skip=base.skip)
    seqs = (base.encode(r["codes"])[0] for r in iter_rows(cfg.data.train, limit=cfg.data.bpe_max_rows))
    bpe = AcousticBPE.train(seqs, base.base_vocab, cfg.data.bpe_vocab)
    bpe.save(path)
    return bpe


class LMTrainer:
    def __init__(self, cfg: LMRunConfig, run_dir: str | Path, progress: bool = True):
        self.cfg, self.run_dir, self.progress = cfg, Path(run_dir), progress
        t = cfg.train
        info = token_folder_info(cfg.data.train)
        vocab = {k: info[k] for k in ("tokenizer", "frame_rate", "codebook_sizes")}
        if cfg.vocab and {k: cfg.vocab.get(k) for k in vocab} != vocab:
            raise ValueError(f"{cfg.data.train}: made by {vocab}, but this run was trained on {cfg.vocab}")
        self.texts = None
        if cfg.data.text:  # text to speech: phone prefixes (lm/text.py); a resumed run keeps its phone set
            from .text import learn_phones, text_ids

            if cfg.vocab.get("phones"):
                vocab.update({k: cfg.vocab[k] for k in ("phones", "text_languages", "frontend")})
                self.texts = text_ids(vocab, cfg.data.text, progress)
            else:
                learned, self.texts = learn_phones(cfg.data.text, folder_ids(cfg.data.train), progress)
                vocab.update(learned)
        cfg.vocab = vocab
        if cfg.data.skip_codebooks + max(cfg.data.codebooks, 1) > len(vocab["codebook_sizes"]):
            raise ValueError(f"data.skip_codebooks={cfg.data.skip_codebooks} and data.codebooks={cfg.data.codebooks}, "
                             f"but {cfg.data.train} has {len(vocab['codebook_sizes'])} codebooks")
        if cfg.data.valid:
            vinfo = token_folder_info(cfg.data.valid)
            if vinfo["tokenizer"] != vocab["tokenizer"]:
                raise ValueError(f"{cfg.data.valid}: tokenized with {vinfo['tokenizer']}, the training data with {vocab['tokenizer']}")
        self.fabric = make_fabric(t, self.run_dir / "logs")
        bpe = None
        if cfg.data.bpe_vocab:
            bpe_path = self.run_dir / "bpe.json"
            if bpe_path.exists():
                from .bpe import AcousticBPE

                bpe = AcousticBPE.load(bpe_path)
            else:
                if self.fabric.is_global_zero:
                    learn_bpe(cfg, bpe_path)
                self.fabric.barrier()
                from .bpe import AcousticBPE

                bpe = AcousticBPE.load(bpe_path)
        self.layout = make_layout(cfg, bpe)
        model = TokenLM(cfg.model, self.layout.vocab_sizes)
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embed" not in n]
        no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=t.lr, betas=tuple(t.betas),
        )
        self.model, self.opt = self.fabric.setup(model, opt)
        self.stream = PackedStream(cfg.data.train, self.layout, cfg.model.context, max(1, t.batch_size // self.fabric.world_size),
                                   seed=t.seed, shuffle_buffer=cfg.data.shuffle_buffer,
                                   rank=self.fabric.global_rank, world_size=self.fabric.world_size, texts=self.texts)
        self.step = 0
        self._valid_codes = None

    # ---- checkpoints ----------------------------------------------------------------------------
    @property
    def ckpt_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.ckpt"

    def state(self) -> dict:
        return {"model": self.model, "opt": self.opt, "step": self.step,
                "rng": rng_state()}

    def export(self) -> None:
        """config.yaml + model.safetensors, atomically: the folder loads with ``SpeechLM.load``."""
        export_run(self.run_dir, self.model, self.cfg, "speechtok-lm")

    def save_checkpoint(self) -> None:
        save_fabric_checkpoint(self.fabric, self.ckpt_path, self.state(), self.export)

    def resume(self) -> bool:
        if not self.ckpt_path.exists():
            return False
        state = self.state()
        rest = self.fabric.load(self.ckpt_path, state)
        loaded = {**state, **rest}
        self.step = int(loaded["step"])
        restore_rng(loaded["rng"])
        return True

    # ---- validation -----------------------------------------------------------------------------
    def validate(self) -> dict[str, float]:
        """Held-out NLL of whole utterances: bits per content token and per second of audio."""
        d = self.cfg.data
        if not d.valid:
            return {}
        model = unwrap(self.model)
        if self.texts is not None:
            model.eval()
            return self._validate_text(model)
        if self._valid_codes is None:
            rows = list(iter_rows(d.valid, limit=d.max_valid_rows))
            self._valid_codes = ([r["codes"] for r in rows], float(sum(r["duration"] for r in rows)))
        codes, seconds = self._valid_codes
        model.eval()
        scores = SpeechLM(self.cfg, self.layout, model, device=str(self.fabric.device)).score(codes)
        model.train()
        bits = sum(s["bits"] for s in scores)
        return {"val_bits_per_token": bits / max(1, sum(s["tokens"] for s in scores)), "val_bits_per_second": bits / seconds}

    @torch.no_grad()
    def _validate_text(self, model) -> dict[str, float]:
        """Text runs: bits per speech token (and the stop) of the validation utterances, each read
        after its phones, exactly as training weighs them."""
        from .text import text_ids

        if getattr(self, "_valid_texts", None) is None:
            self._valid_texts = text_ids(self.cfg.vocab, self.cfg.data.valid_text or self.cfg.data.text, progress=False)
            self._valid_rows = [r for r in iter_rows(self.cfg.data.valid, limit=self.cfg.data.max_valid_rows)
                                if r["id"] in self._valid_texts]
        bits, tokens, seconds = 0.0, 0, 0.0
        for r in self._valid_rows:
            seq = self.layout.text_wrap(self._valid_texts[r["id"]], r["codes"])
            if seq.shape[1] > self.cfg.model.context + 1:
                continue
            nll = model.token_nll(torch.from_numpy(seq[None]).to(self.fabric.device))[0].cpu().numpy()
            w = self.layout.text_weight(seq)
            bits += float((nll * w).sum() / np.log(2.0))
            tokens += int(w.sum())
            seconds += r["duration"]
        model.train()
        if not tokens:
            return {}
        return {"val_bits_per_token": bits / tokens, "val_bits_per_second": bits / max(seconds, 1e-9)}

    # ---- the loop -------------------------------------------------------------------------------
    def train_step(self, batch: np.ndarray) -> float:
        t = self.cfg.train
        set_lr(self.opt, lr_at(self.step, t.lr, t.warmup_steps, t.steps))
        ids = torch.from_numpy(batch).to(self.fabric.device)
        weight = torch.from_numpy(self.stream.weight(batch)).to(self.fabric.device)
        loss = self.model(ids, weight=weight)
        self.opt.zero_grad(set_to_none=True)
        self.fabric.backward(loss)
        if t.grad_clip:
            self.fabric.clip_gradients(self.model, self.opt, max_norm=t.grad_clip, error_if_nonfinite=False)
        self.opt.step()
        self.step += 1
        return float(loss.detach())

    def fit(self) -> int:
        t = self.cfg.train
        if self.fabric.is_global_zero:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_yaml(self.cfg, self.run_dir / "config.yaml")
        self.model.train()
        start = time.time()
        budget = Budget(max_minutes=t.max_minutes)
        bar = progress_bar(self.fabric, self.progress, total=t.steps, initial=self.step, desc="lm train")
        batches = self.stream.batches(self.step)
        first_step = self.step
        tokens_per_step = t.batch_size * self.cfg.model.context
        while self.step < t.steps:
            loss = self.train_step(next(batches))
            bar.update(1)
            if self.step % t.log_every == 0 or self.step == 1:
                self.fabric.log_dict({"loss": loss, "lr": self.opt.param_groups[0]["lr"],
                                      "tokens_per_s": tokens_per_step * (self.step - first_step) / max(1e-9, time.time() - start)},
                                     step=self.step)
                bar.set_postfix(loss=f"{loss:.3f}")
            if after_step(self, t, bar, budget, last=t.steps):
                break
        bar.close()
        for logger in self.fabric.loggers:
            logger.finalize("success")
        return self.step
