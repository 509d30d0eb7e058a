"""TTS configuration: YAML <-> dataclasses checked by pydantic (``codec.config.configclass``: the
same engine and one-line errors as the codec's and the LM's configs). A voice folder's ``config.yaml`` adds
what training learned from the data (phone set, voices, target statistics), so a voice loads
without its training data."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

from ..codec.config import (EngineConfig, Float, Ge, Int, Interval, NonNegFloat, NonNegInt, PosFloat, PosInt, Str,
                            UnitFloat, build_config, configclass, load_config)


@configclass
class TTSModelConfig:
    hidden: Annotated[Int, Ge(8)] = 192
    encoder_convs: NonNegInt = 3
    encoder_layers: NonNegInt = 2  # self-attention layers after the convolutions
    decoder_layers: PosInt = 6  # dilated residual convolutions over frames
    kernel: PosInt = 5
    heads: PosInt = 2
    dropout: Annotated[Float, Interval(ge=0, le=0.9)] = 0.1


@configclass
class TTSDataConfig:
    train: Str = ""  # a JSONL manifest with path, text, speaker, language
    valid: Str = ""  # held-out utterances of the same voices (the curve and early checks); empty = none
    speakers: list[Str] = field(default_factory=list)  # keep only these speakers; empty = all
    languages: list[Str] = field(default_factory=list)  # keep only these languages; empty = all
    max_valid: NonNegInt = 32
    # how durations are found: mas (monotonic alignment search inside training: any language, no
    # aligner) or pocketsphinx (English: MAS kept within each word's forced-aligned span, with the
    # `words` front end; utterances the aligner cannot fit are left out)
    alignment: Literal["mas", "pocketsphinx"] = "mas"


@configclass
class TTSTrainConfig(EngineConfig):
    """The shared engine settings with a TTS's defaults; ``batch_size`` counts utterances."""

    steps: PosInt = 4000
    batch_size: PosInt = 16
    lr: PosFloat = 1e-3
    betas: list[UnitFloat] = field(default_factory=lambda: [0.9, 0.98])
    warmup_steps: NonNegInt = 200
    valid_every: NonNegInt = 200
    checkpoint_every: PosInt = 100
    max_cpu_minutes: NonNegFloat = 0.0  # stop (with a checkpoint) after this much process CPU time; 0 = no limit
    snapshot_cpu_minutes: list[Float] = field(default_factory=list)  # keep the weights at these CPU-minutes (the curve)
    prior_weight: Float = 1.0
    duration_weight: Float = 1.0
    pitch_weight: Float = 1.0


@configclass
class TTSRunConfig:
    model: TTSModelConfig = field(default_factory=TTSModelConfig)
    data: TTSDataConfig = field(default_factory=TTSDataConfig)
    train: TTSTrainConfig = field(default_factory=TTSTrainConfig)
    name: Str = "speechtok-tts"
    codec: Str = "speechtok-base"  # the tokenizer whose parameters and tokens the voice speaks through
    stages: NonNegInt = 0  # envelope codebooks used when speaking through tokens; 0 = the codec's default bitrate
    # what the frame decoder predicts: the codec's continuous parameters (then quantized), or the
    # tokenizer's tokens themselves (cross-entropy per codebook: the DASB-style comparison of tokenizers)
    target: Literal["parameters", "tokens"] = "parameters"
    durations_from: Str = ""  # target tokens: a trained parameter voice whose MAS alignment gives the durations
    # filled in from the data when training starts; saved with the voice
    learned: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """The rules between fields (run when the config is built)."""
        m = self.model
        if m.hidden % m.heads:
            raise ValueError(f"model.hidden ({m.hidden}) must be a multiple of model.heads ({m.heads})")
        if self.target == "tokens" and not self.durations_from:
            raise ValueError("target: tokens needs durations_from: a trained parameter voice of the same speakers")
        if self.data.alignment == "pocketsphinx" and (self.target != "parameters" or
                                                      any(lang != "en" for lang in self.data.languages or ["en"])):
            raise ValueError("data.alignment pocketsphinx needs target parameters and data.languages [en]")
        if m.kernel % 2 == 0:
            raise ValueError(f"model.kernel must be odd, got {m.kernel}")


def tts_config_from_dict(data: dict, where: str = "config", trusted: bool = False) -> TTSRunConfig:
    return build_config(TTSRunConfig, data, where, trusted)


def load_tts_config(path: str | Path, overrides: list[str] | None = None, trusted: bool = False) -> TTSRunConfig:
    """``trusted``: a shipped voice's config (``codec.config.build_config``)."""
    return load_config(path, overrides, tts_config_from_dict, trusted)
