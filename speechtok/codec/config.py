"""Codec and training configuration: YAML files <-> dataclasses checked by pydantic. Defaults
live here only.

Every config class is a plain ``dataclasses.dataclass`` made with ``configclass``, its limits
written in its annotations: the field types ``Int``, ``Float``, ``Bool``, ``Str`` below (strict: no
silent coercion of 2.5 to 2 or "yes" to True), limits (``Ge``, ``Gt``, ``Interval``: ``PosInt``,
``UnitFloat``, ...) and ``Literal`` choices. pydantic reads them (and
``extra="forbid"``: a key a class does not know is refused, typos should not pass silently) when a
config is checked: by ``build_config`` (every YAML file a user gives), when a config is made in
code and when a field is assigned afterwards, so a bad value stops the run before any data is
loaded. Rules between fields are ``validate()`` methods, run after the fields are checked.
``build_config`` turns pydantic's errors into the one-line ``ValueError`` every command prints
("model.hidden: must be at least 1, got 0").

pydantic is imported on the first check only: the configs of the shipped models and voices are
checked by the tests (tests/test_config.py) and built directly (``trusted=True``), so loading one
neither imports pydantic nor builds its validators.
"""

from __future__ import annotations

import contextvars
import copy
import dataclasses
import functools
import typing
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

from ..runs import parse_design, read_yaml

SAMPLE_RATE = 16000


def _number(v):
    """YAML 1.1 reads 8e-4 (no dot) as a string: a float field takes the number it spells."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            pass
    return v


class _Strict:
    """Field metadata: the value must already have the field's type (pydantic's strict mode; an
    int is still taken for a float). pydantic calls the hook; nothing imports it before."""

    def __get_pydantic_core_schema__(self, source, handler):
        return {**handler(source), "strict": True}

    def __repr__(self) -> str:
        return "Strict"


class _Number:
    """Field metadata: a number written as a string (``_number``) is taken before the check."""

    def __get_pydantic_core_schema__(self, source, handler):
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(_number, handler(source))

    def __repr__(self) -> str:
        return "Number"


class _Bounds:
    """Field metadata: the limits of a number (``Ge(1)``, ``Gt(0)``, ``Interval(ge=0, le=1)``, named
    as in annotated-types, whose import alone would take a tenth of a shipped model's load), put
    into the number's schema when pydantic builds it."""

    __slots__ = ("ge", "gt", "le", "lt")

    def __init__(self, ge=None, gt=None, le=None, lt=None):
        self.ge, self.gt, self.le, self.lt = ge, gt, le, lt

    def __get_pydantic_core_schema__(self, source, handler):
        return _bounded(handler(source), {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None})

    def __repr__(self) -> str:
        return "Bounds(" + ", ".join(f"{k}={getattr(self, k)}" for k in self.__slots__ if getattr(self, k) is not None) + ")"


def _bounded(schema: dict, bounds: dict) -> dict:
    """pydantic's schema of an int or float (inside the validator functions around it) with
    ``bounds`` (ge, gt, le, lt: keys of its int and float schemas)."""
    if schema["type"] in ("int", "float"):
        return {**schema, **bounds}
    if schema["type"].startswith("function-") and "schema" in schema:
        return {**schema, "schema": _bounded(schema["schema"], bounds)}
    raise TypeError(f"limits on a field of schema {schema['type']!r}: only numbers have limits")


def Ge(v) -> _Bounds:
    return _Bounds(ge=v)


def Gt(v) -> _Bounds:
    return _Bounds(gt=v)


def Interval(*, ge=None, gt=None, le=None, lt=None) -> _Bounds:
    return _Bounds(ge, gt, le, lt)


# the field types: strict (2.0 is not a whole number, "yes" not a boolean), except that a float
# field takes a whole number or a number written as a string
Int = Annotated[int, _Strict()]
Float = Annotated[float, _Strict(), _Number()]
Bool = Annotated[bool, _Strict()]
Str = Annotated[str, _Strict()]
# the common limits (a subclass that changes a default must keep the limited type)
PosInt = Annotated[Int, Ge(1)]
NonNegInt = Annotated[Int, Ge(0)]
PosFloat = Annotated[Float, Gt(0)]
NonNegFloat = Annotated[Float, Ge(0)]
UnitFloat = Annotated[Float, Interval(ge=0, le=1)]

#: set while the values being set are already checked (by pydantic, or a trusted build): a config
#: made then runs only its ``validate()`` rules
_CHECKED: contextvars.ContextVar[bool] = contextvars.ContextVar("speechtok_config_checked", default=False)


def _post_init(self) -> None:
    """After ``__init__``: made in code, the config is checked as ``build_config`` checks a file
    (a bad value is a one-line ValueError); made by pydantic or a trusted build, only its rules
    between fields are run."""
    if _CHECKED.get():
        rules = getattr(self, "validate", None)
        if rules is not None:
            rules()
        return
    checked = build_config(type(self), {f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
    self.__dict__.update(checked.__dict__)


def _setattr(self, name: str, value) -> None:
    """Assigning a field of a config already made checks the config with the new value (its type,
    limits and the rules between fields), as reading it from a file would."""
    if name in self.__dict__ and name in self.__dataclass_fields__ and not _CHECKED.get():
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values[name] = value
        value = build_config(type(self), values).__dict__[name]
    object.__setattr__(self, name, value)


def configclass(cls):
    """Make ``cls`` a config class: a dataclass whose unknown keys pydantic refuses, checked when
    made in code and on assignment (see ``_post_init``, ``_setattr``)."""
    if "__post_init__" in cls.__dict__ or "__setattr__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: a config class puts its rules between fields in validate()")
    cls.__pydantic_config__ = {"extra": "forbid"}
    cls.__post_init__ = _post_init
    cls.__setattr__ = _setattr
    return dataclasses.dataclass(cls)


@configclass
class EncoderConfig:
    patch: PosInt = 40  # first conv: stride in samples (kernel 2×patch); 16 kHz / 40 = 400 Hz
    dims: list[PosInt] = field(default_factory=lambda: [64, 128, 256, 256])  # per stage
    strides: list[PosInt] = field(default_factory=lambda: [2, 2, 2])  # learned downsampling between stages
    blocks_per_stage: NonNegInt = 2  # ConvNeXt blocks at each stage
    kernel_size: PosInt = 7
    latent_dim: PosInt = 256


@configclass
class QuantizerConfig:
    kind: Literal["rvq", "fsq", "vq", "lfq", "bsq", "mcrvq"] = "rvq"
    codebook_size: Annotated[Int, Ge(2)] = 1024  # rvq / vq; lfq / bsq: 2**bits, a power of two
    num_quantizers: PosInt = 6  # rvq / fsq / lfq / bsq (residual when > 1)
    codebook_dim: PosInt = 8  # rvq / vq / mcrvq: low-dimensional codes (factorised, better codebook usage)
    masked_groups: PosInt = 3  # mcrvq: the first this many levels each quantize one channel group
    projection: Literal["per_codebook", "shared"] = "per_codebook"  # rvq: DAC-style, or one projection for all
    levels: list[Annotated[Int, Ge(2)]] = field(default_factory=lambda: [8, 5, 5, 5])  # fsq
    dropout: Bool = True  # quantizer dropout: one model, several bitrates
    kmeans_init: Bool = True
    dead_code_threshold: NonNegFloat = 2.0  # EMA count under which a code is replaced by a batch vector
    decay: UnitFloat = 0.99
    commitment_weight: NonNegFloat = 1.0
    # lfq / bsq: weight of the codebook-entropy (bit usage) loss; 0.1 is MAGVIT-v2's. Raise it when
    # the first codebook collapses onto a few codes (`speechtok tokenize` some speech and count)
    entropy_weight: NonNegFloat = 0.1


@configclass
class DecoderConfig:
    dim: PosInt = 256
    intermediate_dim: PosInt = 768
    num_blocks: PosInt = 8
    kernel_size: PosInt = 7
    hop: PosInt = 160  # iSTFT hop in samples; latents are upsampled from the frame hop to this
    n_fft: PosInt = 640
    upsample: Literal["transposed", "repeat"] = "transposed"


@configclass
class CodecConfig:
    sample_rate: Annotated[Int, Ge(1000)] = SAMPLE_RATE
    frame_rate: PosFloat = 50.0
    causal: Bool = False
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)

    @property
    def hop(self) -> int:
        """Samples per token frame."""
        return int(round(self.sample_rate / self.frame_rate))

    def validate(self) -> None:
        """The rules between fields (run when the config is built; again by ``Codec``, for a
        config changed since)."""
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
        q = self.quantizer
        if q.kind == "mcrvq" and not q.masked_groups <= min(q.num_quantizers, self.encoder.latent_dim):
            raise ValueError(f"quantizer.masked_groups ({q.masked_groups}) must be at most num_quantizers "
                             f"({q.num_quantizers}) and the latent's channels ({self.encoder.latent_dim})")
        if q.kind in ("lfq", "bsq") and q.codebook_size & (q.codebook_size - 1):
            raise ValueError(f"quantizer.codebook_size of {q.kind} is 2**bits (one sign bit per dimension), "
                             f"not {q.codebook_size}: use a power of two, e.g. {1 << q.codebook_size.bit_length()}")


@configclass
class DataConfig:
    train: Str = "data/asterisk/train.jsonl"
    valid: Str = "data/asterisk/valid.jsonl"
    segment_seconds: PosFloat = 1.0
    max_valid_utterances: NonNegInt = 16
    max_valid_seconds: PosFloat = 6.0
    gain_db: NonNegFloat = 6.0  # random gain augmentation, ± dB


@configclass
class LossConfig:
    mel: NonNegFloat = 15.0
    stft: NonNegFloat = 1.0  # multi-resolution log-magnitude + spectral convergence
    adversarial: NonNegFloat = 1.0
    feature_matching: NonNegFloat = 2.0
    commitment: NonNegFloat = 1.0
    disc_start_step: NonNegInt = 2000  # generator-only warm-up before the GAN starts
    semantic: dict[str, Any] = field(default_factory=dict)  # objective name -> weight/options


@configclass
class EngineConfig:
    """The training-engine settings every speechtok trainer shares (codec, token LM, TTS)."""

    steps: PosInt = 20000
    batch_size: PosInt = 16
    lr: PosFloat = 5e-4
    betas: list[UnitFloat] = field(default_factory=lambda: [0.8, 0.99])
    weight_decay: NonNegFloat = 0.0
    warmup_steps: NonNegInt = 500
    grad_clip: NonNegFloat = 1.0
    precision: Str = "32-true"  # any Lightning precision, e.g. bf16-mixed on a GPU
    accelerator: Str = "auto"
    devices: Any = 1
    strategy: Str = "auto"
    num_nodes: PosInt = 1
    seed: NonNegInt = 0
    log_every: PosInt = 25
    valid_every: NonNegInt = 1000
    checkpoint_every: PosInt = 500
    max_minutes: NonNegFloat = 0.0  # stop (with a checkpoint) after this wall time; 0 = no limit
    num_threads: NonNegInt = 0  # torch CPU threads; 0 = leave as is


@configclass
class TrainConfig(EngineConfig):
    disc_lr: PosFloat = 5e-4
    anneal_by_time: Bool = False  # with max_minutes: decay the LR by the clock as well as by steps


@configclass
class RunConfig:
    model: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: Str = "speechtok-codec"


# ---- building a config from a dict, and its errors as one line ------------------------------------
@functools.cache
def _adapter(cls):
    """pydantic's validator of config class ``cls`` (built on first use; pydantic imported then)."""
    import pydantic

    return pydantic.TypeAdapter(cls)


def build_config(cls, data: dict | None, where: str = "", trusted: bool = False):
    """dict -> config class ``cls`` (recursively; an empty section means its defaults), or a
    ValueError of one line naming the key: ``where`` is the key ``data`` sits at ("" for a file's
    top level), e.g. "model.quantizer.num_quantizers: must be at least 1, got 0".

    ``trusted``: ``data`` is a config the tests check (a shipped model's or voice's): it is built
    directly, without pydantic (tests/test_config.py checks that both builds are equal); should
    it not fit its classes after all, it is checked as any other."""
    data = {} if data is None else data
    if trusted:
        token = _CHECKED.set(True)
        try:
            return _build_trusted(cls, data)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # the check below says what is wrong, in one line
        finally:
            _CHECKED.reset(token)
    from pydantic import ValidationError

    token = _CHECKED.set(True)
    try:
        return _adapter(cls).validate_python(_empty_sections(cls, data))
    except ValidationError as e:
        raise ValueError(_one_line(cls, e, where)) from None
    finally:
        _CHECKED.reset(token)


@functools.cache
def _fields(cls) -> dict[str, Any]:
    """Field name -> its type (``Annotated`` metadata kept) of config class ``cls``."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _build_trusted(cls, data: dict):
    """``data`` -> ``cls`` as pydantic would build it from a valid config, without checks: sections
    made recursively (an empty one: its defaults), whole numbers in float fields made floats."""
    fields = _fields(cls)
    values = {}
    for name, value in data.items():
        tp, _ = _strip(fields[name])
        if dataclasses.is_dataclass(tp):
            value = _build_trusted(tp, value or {})
        elif tp is float:
            value = float(_number(value))
        elif typing.get_origin(tp) is list and _strip(typing.get_args(tp)[0])[0] is float:
            value = [float(_number(v)) for v in value]
        values[name] = value
    return cls(**values)


def _empty_sections(cls, data):
    """``data`` with each section left empty in the YAML (``quantizer:``, read as None) as {}."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name, tp in _fields(cls).items():
        tp, _ = _strip(tp)
        if name in out and dataclasses.is_dataclass(tp):
            out[name] = _empty_sections(tp, {} if out[name] is None else out[name])
    return out


def _strip(tp) -> tuple[Any, list]:
    """``Annotated[X, ...]`` -> (X, its metadata)."""
    meta = []
    while typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        meta.extend(extra)
    return tp, meta


def _at(cls, loc: tuple) -> tuple[Any, list]:
    """(type, metadata) of the value at ``loc`` (keys and list indices) under config class ``cls``;
    (None, []) where ``loc`` leads nowhere known."""
    tp, meta = cls, []
    for part in loc:
        tp, more = _strip(tp)
        fields = _fields(tp) if dataclasses.is_dataclass(tp) else None
        if isinstance(part, str) and fields is not None and part in fields:
            tp, meta = fields[part], []
        elif isinstance(part, int) and typing.get_origin(tp) is list:
            tp, meta = typing.get_args(tp)[0], []
        else:
            return None, []
    tp, more = _strip(tp)
    return tp, meta + more


def _limit(meta: list) -> str:
    """The limits in a field's metadata, in words: "at least 1", "between 0 and 1"."""
    b = {k: getattr(m, k) for m in meta for k in ("ge", "gt", "le", "lt") if getattr(m, k, None) is not None}
    lo, hi = b.get("ge", b.get("gt")), b.get("le", b.get("lt"))
    if lo is not None and hi is not None:
        return f"between {lo:g} and {hi:g}"
    for k, words in (("ge", "at least"), ("gt", "greater than"), ("le", "at most"), ("lt", "less than")):
        if k in b:
            return f"{words} {b[k]:g}"
    return "within its limits"


#: pydantic's error types for a value of the wrong type -> what the field takes, in words
_EXPECTED = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "a string", "list_type": "a list", "dict_type": "a mapping",
    "dataclass_type": "a mapping of keys", "dataclass_args_type": "a mapping of keys",
}


def _key(where: str, loc: tuple) -> str:
    """``("train", "betas", 1)`` under ``where`` -> ``train.betas[1]``."""
    key = where
    for part in loc:
        key = f"{key}[{part}]" if isinstance(part, int) else f"{key}.{part}" if key else str(part)
    return key


def _one_line(cls, e, where: str) -> str:
    """pydantic's report on ``cls`` -> the one line a user reads: unknown keys first (every one of
    the shallowest section that has any), else the first error, always naming its key."""
    errors = e.errors(include_url=False)
    unknown = [er for er in errors if er["type"] in ("unexpected_keyword_argument", "extra_forbidden")]
    if unknown:
        parent = min((er["loc"][:-1] for er in unknown), key=len)
        keys = sorted(str(er["loc"][-1]) for er in unknown if er["loc"][:-1] == parent)
        section, _ = _at(cls, parent)
        known = sorted(_fields(section)) if dataclasses.is_dataclass(section) else []
        return f"{_key(where, parent) or 'top level'}: unknown key(s) {keys}; known: {known}"
    er = errors[0]
    key, kind, value = _key(where, er["loc"]), er["type"], er.get("input")
    if kind in ("value_error", "assertion_error"):  # a rule between fields (``validate``)
        why = str(er["ctx"]["error"])
        return f"{key}: {why}" if key else why
    if kind in _EXPECTED:
        why = f"expected {_EXPECTED[kind]}, got {value!r}"
    elif kind == "literal_error":
        why = f"must be {er['ctx']['expected']}, got {value!r}"
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        why = f"must be {_limit(_at(cls, er['loc'])[1])}, got {value!r}"
    else:
        why = f"{er['msg'][0].lower()}{er['msg'][1:]}, got {value!r}"
    return f"{key or 'config'}: {why}"


def read_design(path: str | Path) -> str:
    """Which codec design a run config describes: ``sourcefilter`` or ``endtoend``."""
    return parse_design(read_yaml(path), path)


def codec_config_from_dict(data: dict, where: str = "model", trusted: bool = False) -> CodecConfig:
    return build_config(CodecConfig, data, where, trusted)


def run_config_from_dict(data: dict, where: str = "config", trusted: bool = False) -> RunConfig:
    data = dict(data)
    if data.pop("design", "endtoend") != "endtoend":
        raise ValueError("not an end-to-end codec config (design: sourcefilter is read by speechtok.codec.sourcefilter)")
    return build_config(RunConfig, data, where, trusted)


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
            if node.get(part) is None:  # absent, or left empty in the YAML
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part} is not a section")
        node[leaf] = yaml.safe_load(value)
    return data


def load_config(path: str | Path, overrides: list[str] | None, from_dict, trusted: bool = False):
    """Read a YAML config, apply ``section.key=value`` overrides, build it with
    ``from_dict(data, where=...)``; every error names the file. ``trusted``: a shipped model's or
    voice's config, built without pydantic (``build_config``)."""
    return config_from_data(path, read_yaml(path), overrides, from_dict, trusted)


def config_from_data(path: str | Path, data: dict, overrides: list[str] | None, from_dict, trusted: bool = False):
    """``load_config`` of a YAML file already read (``runs.open_run``): ``data`` is not changed."""
    data = apply_overrides(copy.deepcopy(data), overrides or [])
    trust = {"trusted": True} if trusted and not overrides else {}  # an override is the user's: checked
    try:
        return from_dict(data, where="", **trust)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{Path(path)}: {e}") from None


def load_run_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    return load_config(path, overrides, run_config_from_dict)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def save_yaml(cfg, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
