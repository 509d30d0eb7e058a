"""Token-LM configuration: YAML files <-> dataclasses. Defaults live here only.

A run folder's ``config.yaml`` is an ``LMRunConfig`` plus the facts learned from the data at the
start of training (``vocab``: codebook sizes, frame rate, tokenizer), so a run folder loads with
no access to the data it was trained on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codec.config import EngineConfig, apply_overrides, build_config, load_config, save_yaml  # noqa: F401  (re-exported)


@dataclass
class LMModelConfig:
    arch: str = "llama"  # llama | gpt2 (the `transformers` backbone)
    hidden: int = 128
    layers: int = 4
    heads: int = 4
    intermediate: int = 0  # MLP width; 0 = 4 × hidden (gpt2) or 8/3 × hidden (llama, rounded)
    context: int = 256  # tokens (AR steps) per training window
    dropout: float = 0.0
    mtp_heads: int = 0  # > 0: multi-token-prediction heads trained with the LM (drafts for speculative decoding)
    mtp_weight: float = 0.5  # their loss's weight beside the LM's own


@dataclass
class LMDataConfig:
    train: str = ""  # a folder written by `speechtok tokenize` (its Parquet shards are streamed)
    valid: str = ""  # same, held out; empty = no validation
    layout: str = "flat"  # first | flat | delay: how codebooks become one sequence (see layout.py)
    codebooks: int = 0  # use the first N codebooks (after skip_codebooks); 0 = all (layout `first` uses 1)
    skip_codebooks: int = 0  # leave out the first N codebooks (1: a source-filter codec's content without its pitch stream)
    bpe_vocab: int = 0  # > 0: learn acoustic BPE with this many tokens on the training shards
    bpe_max_rows: int = 5000  # rows of the training shards the BPE merges are learned from
    shuffle_buffer: int = 256  # rows held for shuffling while streaming
    max_valid_rows: int = 200
    # text to speech (`speechtok lm say`): a JSONL manifest giving each training utterance's text and
    # language by id; every utterance is then read as BOS phones SEP speech END EOS (lm/text.py)
    text: str = ""
    valid_text: str = ""  # the same for the validation utterances; empty = data.text


@dataclass
class LMTrainConfig(EngineConfig):
    """The shared engine settings (``codec.config.EngineConfig``), with an LM's defaults."""

    steps: int = 2000
    batch_size: int = 16  # windows of `model.context` tokens per step
    lr: float = 2e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.95])
    weight_decay: float = 0.1
    warmup_steps: int = 100
    valid_every: int = 500


@dataclass
class LMRunConfig:
    model: LMModelConfig = field(default_factory=LMModelConfig)
    data: LMDataConfig = field(default_factory=LMDataConfig)
    train: LMTrainConfig = field(default_factory=LMTrainConfig)
    name: str = "speechtok-lm"
    # filled in from the training shards when training starts; saved with the run
    vocab: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        m, d = self.model, self.data
        if m.arch not in ("llama", "gpt2"):
            raise ValueError(f"model.arch must be llama or gpt2, not {m.arch!r}")
        if d.layout not in ("first", "flat", "delay"):
            raise ValueError(f"data.layout must be first, flat or delay, not {d.layout!r}")
        if d.bpe_vocab and d.layout == "delay":
            raise ValueError("data.bpe_vocab needs a single-stream layout (first or flat), not delay")
        if m.hidden % m.heads:
            raise ValueError(f"model.hidden ({m.hidden}) must be a multiple of model.heads ({m.heads})")
        if m.mtp_heads < 0 or m.mtp_weight < 0:
            raise ValueError("model.mtp_heads and model.mtp_weight must be >= 0")
        if d.text and (d.bpe_vocab or d.layout == "flat"):
            raise ValueError("data.text needs layout first or delay, without data.bpe_vocab")
        if m.context < 8:
            raise ValueError("model.context must be at least 8")


_SUBS = {c.__name__: c for c in (LMModelConfig, LMDataConfig, LMTrainConfig)}


def lm_config_from_dict(data: dict, where: str = "config") -> LMRunConfig:
    cfg = build_config(LMRunConfig, data, where, _SUBS)
    cfg.validate()
    return cfg


def load_lm_config(path: str | Path, overrides: list[str] | None = None) -> LMRunConfig:
    return load_config(path, overrides, lm_config_from_dict)
