"""TTS configuration: YAML <-> dataclasses (the same engine and one-line errors as the codec's and
the LM's configs). A voice folder's ``config.yaml`` adds what training learned from the data
(phone set, voices, target statistics), so a voice loads without its training data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..codec.config import EngineConfig, _build, load_config, register_configs


@dataclass
class TTSModelConfig:
    hidden: int = 192
    encoder_convs: int = 3
    encoder_layers: int = 2  # self-attention layers after the convolutions
    decoder_layers: int = 6  # dilated residual convolutions over frames
    kernel: int = 5
    heads: int = 2
    dropout: float = 0.1


@dataclass
class TTSDataConfig:
    train: str = ""  # a JSONL manifest with path, text, speaker, language
    valid: str = ""  # held-out utterances of the same voices (the curve and early checks); empty = none
    speakers: list[str] = field(default_factory=list)  # keep only these speakers; empty = all
    languages: list[str] = field(default_factory=list)  # keep only these languages; empty = all
    max_valid: int = 32
    # how durations are found: mas (monotonic alignment search inside training: any language, no
    # aligner) or pocketsphinx (English: MAS kept within each word's forced-aligned span, with the
    # `words` front end; utterances the aligner cannot fit are left out)
    alignment: str = "mas"


@dataclass
class TTSTrainConfig(EngineConfig):
    """The shared engine settings with a TTS's defaults; ``batch_size`` counts utterances."""

    steps: int = 4000
    batch_size: int = 16
    lr: float = 1e-3
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    warmup_steps: int = 200
    valid_every: int = 200
    checkpoint_every: int = 100
    max_cpu_minutes: float = 0.0  # stop (with a checkpoint) after this much process CPU time; 0 = no limit
    snapshot_cpu_minutes: list[float] = field(default_factory=list)  # keep the weights at these CPU-minutes (the curve)
    prior_weight: float = 1.0
    duration_weight: float = 1.0
    pitch_weight: float = 1.0


@dataclass
class TTSRunConfig:
    model: TTSModelConfig = field(default_factory=TTSModelConfig)
    data: TTSDataConfig = field(default_factory=TTSDataConfig)
    train: TTSTrainConfig = field(default_factory=TTSTrainConfig)
    name: str = "speechtok-tts"
    codec: str = "speechtok-base"  # the tokenizer whose parameters and tokens the voice speaks through
    stages: int = 0  # envelope codebooks used when speaking through tokens; 0 = the codec's default bitrate
    # what the frame decoder predicts: the codec's continuous parameters (then quantized), or the
    # tokenizer's tokens themselves (cross-entropy per codebook: the DASB-style comparison of tokenizers)
    target: str = "parameters"
    durations_from: str = ""  # target tokens: a trained parameter voice whose MAS alignment gives the durations
    # filled in from the data when training starts; saved with the voice
    learned: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        m = self.model
        if m.hidden % m.heads:
            raise ValueError(f"model.hidden ({m.hidden}) must be a multiple of model.heads ({m.heads})")
        if self.target not in ("parameters", "tokens"):
            raise ValueError(f"target must be parameters or tokens, not {self.target!r}")
        if self.target == "tokens" and not self.durations_from:
            raise ValueError("target: tokens needs durations_from: a trained parameter voice of the same speakers")
        if self.data.alignment not in ("mas", "pocketsphinx"):
            raise ValueError(f"data.alignment must be mas or pocketsphinx, not {self.data.alignment!r}")
        if self.data.alignment == "pocketsphinx" and (self.target != "parameters" or
                                                      any(lang != "en" for lang in self.data.languages or ["en"])):
            raise ValueError("data.alignment pocketsphinx needs target parameters and data.languages [en]")
        if m.kernel % 2 == 0:
            raise ValueError(f"model.kernel must be odd, got {m.kernel}")


_SUBS = {c.__name__: c for c in (TTSModelConfig, TTSDataConfig, TTSTrainConfig)}
register_configs(limits={
    "TTSModelConfig": {"hidden": ">=8", "decoder_layers": ">=1", "kernel": ">=1", "heads": ">=1", "dropout": "0..0.9"},
    "TTSTrainConfig": {"max_cpu_minutes": ">=0"},
    "TTSDataConfig": {"max_valid": ">=0"},
    "TTSRunConfig": {"stages": ">=0"},
})


def tts_config_from_dict(data: dict, where: str = "config") -> TTSRunConfig:
    cfg = _build(TTSRunConfig, data, where, _SUBS)
    cfg.validate()
    return cfg


def load_tts_config(path: str | Path, overrides: list[str] | None = None) -> TTSRunConfig:
    return load_config(path, overrides, tts_config_from_dict)
