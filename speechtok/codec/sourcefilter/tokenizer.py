"""The source-filter codec as a `Tokenizer`, and its run folders (config.yaml + model.safetensors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...errors import SpeechtokError, StreamingUnsupported
from ...runs import RunFolder, load_weights, open_run, read_safetensors, save_run, save_weights
from ...tokenizers.base import Tokenizer, codebooks_for_kbps, prefix_kbps
from ..config import build_config, config_from_data
from .config import RefinerConfig, SFRunConfig, SourceFilterConfig, load_sf_config, sf_config_from_dict  # noqa: F401  (load_sf_config: its old home)
from .model import SourceFilterCodec

#: what each codebook of a source-filter token array is (Tokens.extra["streams"])
PITCH, ENVELOPE = "pitch", "envelope"
#: latency modes (streaming.py); a shipped model's name + LOW_LATENCY_SUFFIX is its "low" mode
LATENCIES = ("file", "low")
LOW_LATENCY_SUFFIX = "+lowlatency"
#: the low-latency mode's refiner, beside model.safetensors (``save_low_latency_refiner``)
LOW_LATENCY_REFINER = "lowlatency-refiner.safetensors"


class SourceFilterTokenizer(Tokenizer):
    """Codebook 0 is pitch (``Tokens.extra["streams"]`` says so); the rest are envelope stages.
    ``stages`` < the model's selects a lower bitrate."""

    # CPU signal processing: ``speechtok tokenize`` runs one copy per worker process (measured:
    # 440x real time with 2 workers against 283x batched in the main process)
    batch_in_workers = True
    #: a lower bitrate keeps the pitch stream and at least one envelope stage
    min_codebooks = 2

    def __init__(self, codec: SourceFilterCodec, name: str, version: str, stages: int | None = None,
                 latency: str = "file"):
        self.codec = codec.eval()
        if latency not in LATENCIES:
            raise ValueError(f"{name}: latency must be one of {', '.join(LATENCIES)}, not {latency!r}")
        if latency == "low" and codec.low_latency_refusal():
            raise SpeechtokError(f"{name}: no low-latency mode: {codec.low_latency_refusal()}")
        #: "file" (the trained analysis segments, the refiner) or "low" (frame-local analysis,
        #: the low-latency refiner if the model has one: the streaming mode; ``LOW_LATENCY_SUFFIX``)
        self.latency = latency
        self._model_version = version  # before the low-latency refiner's id: ``with_codebooks``
        if latency == "low" and codec.low_refiner is not None:
            version = f"{version}+{LOW_LATENCY_REFINER.split('.')[0]}-{codec.low_refiner_id}"
        self.name, self.version = name, version
        self.sample_rate = codec.cfg.sample_rate
        self.frame_rate = float(codec.cfg.frame_rate)
        k = stages or codec.cfg.quant.num_stages
        if not 1 <= k <= codec.cfg.quant.num_stages:
            raise ValueError(f"{name}: stages must be in 1..{codec.cfg.quant.num_stages}")
        self.stages = k
        self.codebook_sizes = tuple(codec.codebook_sizes[: 1 + k])

    @property
    def all_codebook_sizes(self) -> tuple[int, ...]:
        return tuple(self.codec.codebook_sizes[: 1 + self.codec.cfg.quant.num_stages])

    def with_codebooks(self, k: int) -> "SourceFilterTokenizer":
        if k == self.num_codebooks:
            return self
        if not self.min_codebooks <= k <= len(self.all_codebook_sizes):
            raise SpeechtokError(f"{self.name}: codebooks must be in {self.min_codebooks}..{len(self.all_codebook_sizes)}")
        tok = SourceFilterTokenizer(self.codec, self._rate_name(k), self._model_version, k - 1, self.latency)
        tok.model_id = self.model_id
        return tok

    @property
    def can_stream(self) -> bool:
        # a model with a phone teacher runs a bidirectional net over the whole file when encoding
        return self.codec.teacher is None

    @property
    def streams(self) -> list[str]:
        return [PITCH] + [ENVELOPE] * self.stages

    def _make_tokens(self, codes, num_samples, sample_rate, extra=None):
        low = {"latency": "low"} if self.latency == "low" else {}
        return super()._make_tokens(codes, num_samples, sample_rate, {"streams": self.streams, **low, **(extra or {})})

    def open_stream(self, latency: str | None = None, band_limit: float | None = None, envelope_mean=None):
        """A chunked encoder/decoder whose output equals whole-file processing in the same
        latency mode (``encode``/``encode_flush``/``decode``/``decode_flush``; see
        ``streaming.py``). ``latency``: "file" or "low" (default: this tokenizer's).
        ``band_limit`` / ``envelope_mean``: the per-utterance facts whole-file encoding detects
        (``Tokens.extra``); a live stream cannot know them in advance, so by default it codes
        full band with the model's global mean."""
        from .streaming import SourceFilterStream

        if not self.can_stream:
            raise StreamingUnsupported(f"{self.name} cannot stream: its encoder runs a bidirectional phone teacher "
                                       f"over the whole file (quant.semantic: teacher)")

        return SourceFilterStream(self.codec, self.stages, latency or self.latency, band_limit, envelope_mean)

    @property
    def latency_seconds(self) -> dict | None:
        """Algorithmic latency of this tokenizer's streams (encoder, decoder, total; seconds)."""
        return self.open_stream().latency_seconds if self.can_stream else None

    def _decode_session(self, tokens):
        return self.open_stream(None, band_limit_of(tokens, self.sample_rate), envelope_mean_of(tokens, self.codec))

    def _encode(self, wav: np.ndarray):
        return self._encode_batch([wav])[0]

    def _encode_batch(self, wavs: list[np.ndarray]) -> list:
        # the analysis of all segments shares its FFT calls; each utterance is quantized alone,
        # so the codes equal one-by-one encoding. A detected band limit (8 kHz-sourced speech)
        # picks codewords by the in-band error and is carried in Tokens.extra (band.py)
        c = self.codec
        out = []
        for fr, w in zip(c.analyze_many(wavs, self.latency), wavs):
            limit = c.band_limit(w)
            extra = {BAND_LIMIT: round(limit, 1)} if limit is not None else {}
            mean = None
            if c.normalized:  # the utterance's mean envelope, sent once (c.side_bits bits)
                mean = c.quantize_mean(c.features(fr))
                extra[ENVELOPE_MEAN] = mean.tolist()
            codes = c.quantize(fr, self.stages, c.teacher_side(w), limit, mean)
            if c.normalized:
                extra["payload_bits"] = int(codes.shape[1] * round(self.bitrate / self.frame_rate)) + c.side_bits
            out.append((codes, extra or None))
        return out

    def _decode(self, codes: np.ndarray, num_samples: int, tokens) -> np.ndarray:
        return self.codec.decode(codes, num_samples, latency=self.latency, band_limit=band_limit_of(tokens, self.sample_rate),
                                 mean=envelope_mean_of(tokens, self.codec))


#: Tokens.extra key of a detected band limit (Hz); absent for full-band speech
BAND_LIMIT = "band_limit_hz"


#: Tokens.extra key of the side mean of a normalized model (quant.normalize: utterance)
ENVELOPE_MEAN = "envelope_mean"


def envelope_mean_of(tokens, codec) -> list | None:
    """The side mean a Tokens value carries (None for a model without normalization, or tokens
    without one: codes an LM generated, a live stream's, which decode with the model's global
    mean); refuses a malformed one."""
    if not codec.normalized:
        return None
    from ...errors import TokensFileError

    v = tokens.extra.get(ENVELOPE_MEAN) if isinstance(tokens.extra, dict) else None
    order, lim = codec.cfg.quant.mean_order, 2 ** (codec.MEAN_BITS - 1) - 1
    if v is None:
        return None
    if (not isinstance(v, list) or len(v) != order
            or not all(isinstance(x, int) and not isinstance(x, bool) and -lim <= x <= lim for x in v)):
        raise TokensFileError(f"extra.{ENVELOPE_MEAN} must be {order} integers in -{lim}..{lim}")
    return v


def band_limit_of(tokens, sample_rate: int) -> float | None:
    """The band limit a Tokens value carries (None: full band); refuses a value that is not one."""
    v = (tokens.extra or {}).get(BAND_LIMIT) if isinstance(tokens.extra, dict) else None
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 500 <= v <= sample_rate / 2:
        from ...errors import TokensFileError

        raise TokensFileError(f"extra.{BAND_LIMIT} must be a frequency in 500..{sample_rate // 2} Hz, got {v!r}")
    return float(v)


def read_sf_run(path, trusted: bool = False) -> tuple[SourceFilterCodec, SFRunConfig, str]:
    """A run folder (a path, or a ``runs.RunFolder`` already opened) -> (codec, its config, the
    weights' digest). Each file is read once. ``trusted``: a shipped model (its configs are built
    without pydantic: ``codec.config.build_config``)."""
    run = path if isinstance(path, RunFolder) else open_run(path)
    try:
        cfg = config_from_data(run.config, run.data, None, sf_config_from_dict, trusted)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    codec = SourceFilterCodec(cfg.model)
    # a run whose refiner is off ships without its weights
    digest = load_weights(codec, run.config, run.weights, optional=() if cfg.model.refiner.enabled else ("refiner.",))
    load_low_latency_refiner(codec, run.folder, digest, trusted)
    return codec.eval(), cfg, digest


def save_low_latency_refiner(refiner, folder: str | Path, model_digest: str, info: dict | None = None) -> Path:
    """The low-latency mode's refiner -> ``folder/LOW_LATENCY_REFINER``, tied to the weights
    (``model_digest``) whose codebooks it was trained on; ``info``: strings for its metadata."""
    import json
    from dataclasses import asdict

    meta = {"config": json.dumps(asdict(refiner.cfg)), "model": model_digest, **{k: str(v) for k, v in (info or {}).items()}}
    return save_weights(Path(folder) / LOW_LATENCY_REFINER, refiner.state_dict(), meta)


def load_low_latency_refiner(codec: SourceFilterCodec, folder: Path, model_digest: str, trusted: bool = False) -> bool:
    """Give ``codec`` the low-latency refiner in ``folder``, if there is one made for these
    weights; one made for other weights (the model was retrained since) is left out, with a
    warning: the low-latency mode then decodes without a refiner. ``trusted``: a shipped model's
    (its refiner's config is built without pydantic)."""
    import json
    import warnings

    from ...errors import SpeechtokWarning
    from .refine import Refiner

    path = Path(folder) / LOW_LATENCY_REFINER
    if not path.exists():
        return False
    state, meta, digest = read_safetensors(path)
    if meta.get("model") != model_digest:
        warnings.warn(f"{path} was trained for model {meta.get('model')}, not {model_digest}: the low-latency mode "
                      f"decodes without a refiner until it is retrained (benchmarks/sourcefilter/causal_refiner.py)",
                      SpeechtokWarning, stacklevel=2)
        return False
    try:
        cfg = build_config(RefinerConfig, json.loads(meta["config"]), "config", trusted)
    except ValueError as e:
        raise SpeechtokError(f"{path}: {e}") from None
    refiner = Refiner(codec.cfg.feature_dim, codec.cfg.quant.pitch_levels, cfg)
    refiner.load_state_dict(state)
    codec.set_low_latency_refiner(refiner)
    codec.low_refiner_id = digest
    return True


def save_sf_run(codec: SourceFilterCodec, cfg: SFRunConfig, folder: str | Path) -> None:
    """config.yaml + model.safetensors (the refiner's weights only when it is enabled)."""
    from dataclasses import asdict

    state = {k: v for k, v in codec.state_dict().items() if cfg.model.refiner.enabled or not k.startswith("refiner.")}
    save_run(folder, state, asdict(cfg))


def kbps_options(cfg: SourceFilterConfig) -> list[float]:
    """The bitrates of 1 .. ``num_stages`` envelope stages (pitch always included)."""
    q = cfg.quant
    return prefix_kbps(cfg.frame_rate, [q.pitch_levels] + [q.codebook_size] * q.num_stages, first=2)


def stages_for_kbps(codec: SourceFilterCodec, kbps: float, name: str) -> int:
    """The envelope stages that give ``kbps`` (one of ``kbps_options``)."""
    q = codec.cfg.quant
    return codebooks_for_kbps(codec.cfg.frame_rate, [q.pitch_levels] + [q.codebook_size] * q.num_stages, kbps, name, first=2) - 1
