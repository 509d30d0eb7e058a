"""Codec and training configuration: YAML files <-> dataclasses. Defaults live here only."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..runs import parse_design, read_yaml

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
class EngineConfig:
    """The training-engine settings every speechtok trainer shares (codec, token LM)."""

    steps: int = 20000
    batch_size: int = 16
    lr: float = 5e-4
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
    num_threads: int = 0  # torch CPU threads; 0 = leave as is


@dataclass
class TrainConfig(EngineConfig):
    disc_lr: float = 5e-4
    anneal_by_time: bool = False  # with max_minutes: decay the LR by the clock as well as by steps


@dataclass
class RunConfig:
    model: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "speechtok-codec"


# Allowed values, checked with the types when a config is read, so a bad value stops the run
# before any data is loaded: ">=1" / ">0" bounds (each element of a list), "a..b" a closed range,
# a tuple the choices.
_LIMITS: dict[str, dict[str, str | tuple]] = {
    "EncoderConfig": {"patch": ">=1", "dims": ">=1", "strides": ">=1", "blocks_per_stage": ">=0",
                      "kernel_size": ">=1", "latent_dim": ">=1"},
    "QuantizerConfig": {"kind": ("rvq", "fsq", "vq"), "codebook_size": ">=2", "num_quantizers": ">=1",
                        "codebook_dim": ">=1", "projection": ("per_codebook", "shared"), "levels": ">=2",
                        "dead_code_threshold": ">=0", "decay": "0..1", "commitment_weight": ">=0"},
    "DecoderConfig": {"dim": ">=1", "intermediate_dim": ">=1", "num_blocks": ">=1", "kernel_size": ">=1",
                      "hop": ">=1", "n_fft": ">=1", "upsample": ("transposed", "repeat")},
    "CodecConfig": {"sample_rate": ">=1000", "frame_rate": ">0"},
    "DataConfig": {"segment_seconds": ">0", "max_valid_utterances": ">=0", "max_valid_seconds": ">0", "gain_db": ">=0"},
    "LossConfig": {"mel": ">=0", "stft": ">=0", "adversarial": ">=0", "feature_matching": ">=0",
                   "commitment": ">=0", "disc_start_step": ">=0"},
    "EngineConfig": {"steps": ">=1", "batch_size": ">=1", "lr": ">0", "betas": "0..1",
                     "weight_decay": ">=0", "warmup_steps": ">=0", "grad_clip": ">=0", "num_nodes": ">=1",
                     "seed": ">=0", "log_every": ">=1", "valid_every": ">=0", "checkpoint_every": ">=1",
                     "max_minutes": ">=0", "num_threads": ">=0"},
    "TrainConfig": {"disc_lr": ">0"},
}


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _typed(value, ftype: str, where: str):
    """``value`` as the field type ``ftype`` (an annotation string), or ValueError naming ``where``."""
    def number(v):
        if _is_int(v) or isinstance(v, float):
            return float(v)
        if isinstance(v, str):
            try:  # YAML 1.1 reads 8e-4 (no dot) as a string
                return float(v)
            except ValueError:
                pass
        raise ValueError(f"{where}: expected a number, got {v!r}")

    if ftype == "int":
        if not _is_int(value):
            raise ValueError(f"{where}: expected a whole number, got {value!r}")
    elif ftype == "float":
        value = number(value)
    elif ftype == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
    elif ftype == "str":
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
    elif ftype in ("list[int]", "list[float]"):
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        value = [_typed(v, ftype[5:-1], f"{where}[{i}]") for i, v in enumerate(value)]
    elif ftype.startswith("dict"):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping, got {value!r}")
    return value


def _check_limit(value, rule, where: str) -> None:
    if isinstance(rule, tuple):
        if value not in rule:
            raise ValueError(f"{where}: must be one of {', '.join(rule)}, got {value!r}")
        return
    for v in value if isinstance(value, list) else [value]:
        if rule.startswith(">="):
            ok, text = v >= float(rule[2:]), f"at least {rule[2:]}"
        elif rule.startswith(">"):
            ok, text = v > float(rule[1:]), f"greater than {rule[1:]}"
        else:
            lo, hi = (float(x) for x in rule.split(".."))
            ok, text = lo <= v <= hi, f"between {lo:g} and {hi:g}"
        if not ok:
            raise ValueError(f"{where}: must be {text}, got {v!r}")


def _build(cls, data: dict | None, where: str, subconfigs: dict | None = None):
    """dict -> dataclass, recursively, refusing unknown keys (typos should not pass silently),
    values of the wrong type and values outside their limits (``_LIMITS``).
    ``subconfigs``: class name -> dataclass for nested sections (default: the codec's)."""
    subconfigs = _SUBCONFIGS if subconfigs is None else subconfigs
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"{where or 'config'}: expected a mapping of keys, got {data!r}")
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where or 'top level'}: unknown key(s) {unknown}; known: {sorted(fields)}")
    limits = {}  # a subclass's limits add to (and override) its bases'
    for base in reversed(cls.__mro__):
        limits.update(_LIMITS.get(base.__name__, {}))
    kwargs = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        ftype = fields[name].type
        ftype = ftype if isinstance(ftype, str) else getattr(ftype, "__name__", str(ftype))
        sub = subconfigs.get(ftype)
        if sub:
            value = _build(sub, value, key, subconfigs)
        else:
            value = _typed(value, ftype, key)
            if name in limits:
                _check_limit(value, limits[name], key)
        kwargs[name] = value
    return cls(**kwargs)


_SUBCONFIGS = {
    c.__name__: c
    for c in (EncoderConfig, QuantizerConfig, DecoderConfig, CodecConfig, DataConfig, LossConfig, TrainConfig)
}


def register_configs(*classes, limits: dict | None = None) -> None:
    """Make more config dataclasses buildable from YAML by ``build_config`` (other codec designs),
    with their allowed values (``limits``: class name -> field -> rule, as in ``_LIMITS``)."""
    _SUBCONFIGS.update({c.__name__: c for c in classes})
    _LIMITS.update(limits or {})


def build_config(cls, data: dict | None, where: str, subconfigs: dict | None = None):
    """dict -> dataclass ``cls`` (recursively; unknown keys are errors). ``subconfigs``: class
    name -> dataclass for nested sections (default: every registered config class)."""
    return _build(cls, data, where, subconfigs)


def read_design(path: str | Path) -> str:
    """Which codec design a run config describes: ``sourcefilter`` or ``endtoend``."""
    return parse_design(read_yaml(path), path)


def codec_config_from_dict(data: dict, where: str = "model") -> CodecConfig:
    cfg = _build(CodecConfig, data, where)
    cfg.validate()
    return cfg


def run_config_from_dict(data: dict, where: str = "config") -> RunConfig:
    data = dict(data)
    if data.pop("design", "endtoend") != "endtoend":
        raise ValueError("not an end-to-end codec config (design: sourcefilter is read by speechtok.codec.sourcefilter)")
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
    return config_from_data(path, read_yaml(path), overrides, from_dict)


def config_from_data(path: str | Path, data: dict, overrides: list[str] | None, from_dict):
    """``load_config`` of a YAML file already read (``runs.open_run``): ``data`` is not changed."""
    data = apply_overrides(copy.deepcopy(data), overrides or [])
    try:
        return from_dict(data, where="")
    except (TypeError, ValueError) as e:
        raise ValueError(f"{Path(path)}: {e}") from None


def load_run_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    return load_config(path, overrides, run_config_from_dict)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def save_yaml(cfg, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
