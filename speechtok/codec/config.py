"""Codec and training configuration: YAML files <-> dataclasses. Defaults live here only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SAMPLE_RATE = 16000


@dataclass
class EncoderConfig:
    patch: int = 40  # first conv: stride in samples (kernel 2×patch); 16 kHz / 40 = 400 Hz
    dims: list[int] = field(default_factory=lambda: [64, 128, 256, 256])  # per stage
    strides: list[int] = field(default_factory=lambda: [2, 2, 2])  # learned downsampling between stages
    blocks_per_stage: int = 2  # ConvNeXt blocks at each stage
    kernel_size: int = 7
    latent_dim: int = 256


@dataclass
class QuantizerConfig:
    kind: str = "rvq"  # rvq | fsq | vq
    codebook_size: int = 1024  # rvq / vq
    num_quantizers: int = 6  # rvq / fsq (residual FSQ when > 1)
    codebook_dim: int = 8  # rvq / vq: low-dimensional codes (factorised, better codebook usage)
    projection: str = "per_codebook"  # rvq: per_codebook (DAC-style) or shared (one projection for all)
    levels: list[int] = field(default_factory=lambda: [8, 5, 5, 5])  # fsq
    dropout: bool = True  # quantizer dropout: one model, several bitrates
    kmeans_init: bool = True
    dead_code_threshold: float = 2.0  # EMA count under which a code is replaced by a batch vector
    decay: float = 0.99
    commitment_weight: float = 1.0


@dataclass
class DecoderConfig:
    dim: int = 256
    intermediate_dim: int = 768
    num_blocks: int = 8
    kernel_size: int = 7
    hop: int = 160  # iSTFT hop in samples; latents are upsampled from the frame hop to this
    n_fft: int = 640
    upsample: str = "transposed"  # transposed | repeat


@dataclass
class CodecConfig:
    sample_rate: int = SAMPLE_RATE
    frame_rate: float = 50.0
    causal: bool = False
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    @property
    def hop(self) -> int:
        """Samples per token frame."""
        return int(round(self.sample_rate / self.frame_rate))

    def validate(self) -> None:
        enc = self.encoder
        product = enc.patch
        for s in enc.strides:
            product *= s
        if product != self.hop:
            raise ValueError(
                f"encoder patch × strides = {product} samples, but frame rate {self.frame_rate} Hz "
                f"at {self.sample_rate} Hz needs {self.hop}"
            )
        if len(enc.dims) != len(enc.strides) + 1:
            raise ValueError("encoder.dims needs one entry per stage (len(strides) + 1)")
        if self.hop % self.decoder.hop:
            raise ValueError(f"frame hop {self.hop} is not a multiple of decoder.hop {self.decoder.hop}")
        if self.quantizer.kind not in ("rvq", "fsq", "vq"):
            raise ValueError(f"quantizer.kind must be rvq, fsq or vq, not {self.quantizer.kind!r}")


@dataclass
class DataConfig:
    train: str = "data/asterisk/train.jsonl"
    valid: str = "data/asterisk/valid.jsonl"
    segment_seconds: float = 1.0
    max_valid_utterances: int = 16
    max_valid_seconds: float = 6.0
    gain_db: float = 6.0  # random gain augmentation, ± dB


@dataclass
class LossConfig:
    mel: float = 15.0
    stft: float = 1.0  # multi-resolution log-magnitude + spectral convergence
    adversarial: float = 1.0
    feature_matching: float = 2.0
    commitment: float = 1.0
    disc_start_step: int = 2000  # generator-only warm-up before the GAN starts
    semantic: dict[str, Any] = field(default_factory=dict)  # objective name -> weight/options


@dataclass
class TrainConfig:
    steps: int = 20000
    batch_size: int = 16
    lr: float = 5e-4
    disc_lr: float = 5e-4
    betas: list[float] = field(default_factory=lambda: [0.8, 0.99])
    weight_decay: float = 0.0
    warmup_steps: int = 500
    grad_clip: float = 1.0
    precision: str = "32-true"  # any Lightning precision, e.g. bf16-mixed on a GPU
    accelerator: str = "auto"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    seed: int = 0
    log_every: int = 25
    valid_every: int = 1000
    checkpoint_every: int = 500
    max_minutes: float = 0.0  # stop (with a checkpoint) after this wall time; 0 = no limit
    anneal_by_time: bool = False  # with max_minutes: decay the LR by the clock as well as by steps
    num_threads: int = 0  # torch CPU threads; 0 = leave as is


@dataclass
class RunConfig:
    model: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "speechtok-codec"


def _build(cls, data: dict | None, where: str, subconfigs: dict | None = None):
    """dict -> dataclass, recursively, refusing unknown keys (typos should not pass silently).
    ``subconfigs``: class name -> dataclass for nested sections (default: the codec's)."""
    subconfigs = _SUBCONFIGS if subconfigs is None else subconfigs
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(fields)}")
    kwargs = {}
    for name, value in data.items():
        ftype = fields[name].type
        sub = subconfigs.get(ftype if isinstance(ftype, str) else getattr(ftype, "__name__", ""))
        if sub:
            value = _build(sub, value, f"{where}.{name}", subconfigs)
        elif ftype == "float" and isinstance(value, (str, int)) and not isinstance(value, bool):
            try:  # YAML 1.1 reads 8e-4 (no dot) as a string
                value = float(value)
            except ValueError:
                raise ValueError(f"{where}.{name}: expected a number, got {value!r}") from None
        kwargs[name] = value
    return cls(**kwargs)


_SUBCONFIGS = {
    c.__name__: c
    for c in (EncoderConfig, QuantizerConfig, DecoderConfig, CodecConfig, DataConfig, LossConfig, TrainConfig)
}


def codec_config_from_dict(data: dict, where: str = "model") -> CodecConfig:
    cfg = _build(CodecConfig, data, where)
    cfg.validate()
    return cfg


def run_config_from_dict(data: dict, where: str = "config") -> RunConfig:
    cfg = _build(RunConfig, data, where)
    cfg.model.validate()
    return cfg


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """``["train.steps=100", "data.train=x.jsonl"]`` -> the same dict with those keys set
    (values parsed as YAML, so numbers, booleans and lists work)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} must look like section.key=value")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part} is not a section")
        node[leaf] = yaml.safe_load(value)
    return data


def load_config(path: str | Path, overrides: list[str] | None, from_dict):
    """Read a YAML config, apply ``section.key=value`` overrides, build it with
    ``from_dict(data, where=...)``; every error names the file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{p}: cannot read config ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a config must be a mapping at the top level")
    data = apply_overrides(data, overrides or [])
    try:
        return from_dict(data, where=str(p))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{p}: {e}") from None


def load_run_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    return load_config(path, overrides, run_config_from_dict)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def save_yaml(cfg, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
