"""Token-LM configuration: YAML files <-> dataclasses checked by pydantic (``codec.config.configclass``:
the same engine and one-line errors as the codec's configs). Defaults live here only.

A run folder's ``config.yaml`` is an ``LMRunConfig`` plus the facts learned from the data at the
start of training (``vocab``: codebook sizes, frame rate, tokenizer), so a run folder loads with
no access to the data it was trained on.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

from ..codec.config import (  # noqa: F401  (EngineConfig, apply_overrides, save_yaml: re-exported)
    EngineConfig, Ge, Int, NonNegFloat, NonNegInt, PosFloat, PosInt, Str, UnitFloat, apply_overrides, build_config,
    configclass, load_config, save_yaml)


@configclass
class LMModelConfig:
    arch: Literal["llama", "gpt2"] = "llama"  # the `transformers` backbone
    hidden: PosInt = 128
    layers: PosInt = 4
    heads: PosInt = 4
    intermediate: NonNegInt = 0  # MLP width; 0 = 4 × hidden (gpt2) or 8/3 × hidden (llama, rounded)
    context: Annotated[Int, Ge(8)] = 256  # tokens (AR steps) per training window
    dropout: UnitFloat = 0.0
    mtp_heads: NonNegInt = 0  # > 0: multi-token-prediction heads trained with the LM (drafts for speculative decoding)
    mtp_weight: NonNegFloat = 0.5  # their loss's weight beside the LM's own


@configclass
class LMDataConfig:
    train: Str = ""  # a folder written by `speechtok tokenize` (its Parquet shards are streamed)
    valid: Str = ""  # same, held out; empty = no validation
    layout: Literal["first", "flat", "delay"] = "flat"  # how codebooks become one sequence (see layout.py)
    codebooks: NonNegInt = 0  # use the first N codebooks (after skip_codebooks); 0 = all (layout `first` uses 1)
    skip_codebooks: NonNegInt = 0  # leave out the first N codebooks (1: a source-filter codec's content without its pitch stream)
    bpe_vocab: NonNegInt = 0  # > 0: learn acoustic BPE with this many tokens on the training shards
    bpe_max_rows: PosInt = 5000  # rows of the training shards the BPE merges are learned from
    shuffle_buffer: PosInt = 256  # rows held for shuffling while streaming
    max_valid_rows: NonNegInt = 200
    # text to speech (`speechtok lm say`): a JSONL manifest giving each training utterance's text and
    # language by id; every utterance is then read as BOS phones SEP speech END EOS (lm/text.py)
    text: Str = ""
    valid_text: Str = ""  # the same for the validation utterances; empty = data.text


@configclass
class LMTrainConfig(EngineConfig):
    """The shared engine settings (``codec.config.EngineConfig``), with an LM's defaults."""

    steps: PosInt = 2000
    batch_size: PosInt = 16  # windows of `model.context` tokens per step
    lr: PosFloat = 2e-3
    betas: list[UnitFloat] = field(default_factory=lambda: [0.9, 0.95])
    weight_decay: NonNegFloat = 0.1
    warmup_steps: NonNegInt = 100
    valid_every: NonNegInt = 500


@configclass
class LMRunConfig:
    model: LMModelConfig = field(default_factory=LMModelConfig)
    data: LMDataConfig = field(default_factory=LMDataConfig)
    train: LMTrainConfig = field(default_factory=LMTrainConfig)
    name: Str = "speechtok-lm"
    # filled in from the training shards when training starts; saved with the run
    vocab: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """The rules between fields (run when the config is built)."""
        m, d = self.model, self.data
        if d.bpe_vocab and d.layout == "delay":
            raise ValueError("data.bpe_vocab needs a single-stream layout (first or flat), not delay")
        if m.hidden % m.heads:
            raise ValueError(f"model.hidden ({m.hidden}) must be a multiple of model.heads ({m.heads})")
        if d.text and (d.bpe_vocab or d.layout == "flat"):
            raise ValueError("data.text needs layout first or delay, without data.bpe_vocab")


def lm_config_from_dict(data: dict, where: str = "config", trusted: bool = False) -> LMRunConfig:
    return build_config(LMRunConfig, data, where, trusted)


def load_lm_config(path: str | Path, overrides: list[str] | None = None) -> LMRunConfig:
    return load_config(path, overrides, lm_config_from_dict)
