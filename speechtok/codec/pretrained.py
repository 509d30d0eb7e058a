"""Our codec as a `Tokenizer`: shipped models by name, and any training run folder by path."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..errors import SpeechtokError, StreamingUnsupported
from ..runs import RunFolder, load_weights, open_run, run_files  # noqa: F401  (run_files: its old home)
from ..tokenizers.base import Tokenizer, codebooks_for_kbps, prefix_kbps
from .config import config_from_data, run_config_from_dict
from .model import Codec

MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
# shipped model -> named bitrates (codebooks used); a plain name uses every codebook;
# "+lowlatency" after the model: a source-filter model's low-latency (streaming) mode
_SUFFIX = re.compile(r"^(?P<base>[^@+]+)(?P<low>\+lowlatency)?(?:@(?P<rate>[0-9.]+)kbps)?$")


class CodecTokenizer(Tokenizer):
    """Wraps a `Codec`. ``num_codebooks`` < the model's selects a lower bitrate (RVQ dropout).
    ``model_id`` (a short hash of the weights file) goes into every Tokens it makes."""

    thread_safe = True  # torch modules in eval mode
    min_codebooks = 1

    def __init__(self, codec: Codec, name: str, version: str, num_codebooks: int | None = None,
                 model_id: str | None = None):
        self.codec = codec.eval()
        self.model_id = model_id
        # a codebook never reached in training must not be k-means initialised from the first
        # audio encoded at inference: that would make tokens depend on what was encoded first
        for m in codec.modules():
            if isinstance(getattr(m, "initted", None), torch.Tensor):
                m.initted.fill_(True)
        self.name = name
        self.version = version
        self.sample_rate = codec.cfg.sample_rate
        self.frame_rate = float(codec.cfg.frame_rate)
        k = num_codebooks or codec.quantizer.num_codebooks
        if not 1 <= k <= codec.quantizer.num_codebooks:
            raise ValueError(f"{name}: num_codebooks must be in 1..{codec.quantizer.num_codebooks}")
        self.codebook_sizes = tuple(codec.codebook_sizes[:k])
        self.device = torch.device("cpu")

    @property
    def all_codebook_sizes(self) -> tuple[int, ...]:
        return tuple(self.codec.codebook_sizes[: self.codec.quantizer.num_codebooks])

    def with_codebooks(self, k: int) -> "CodecTokenizer":
        if k == self.num_codebooks:
            return self
        return CodecTokenizer(self.codec, self._rate_name(k), self.version, k, model_id=self.model_id).to(self.device)

    @property
    def can_stream(self) -> bool:
        return bool(self.codec.cfg.causal)

    def open_stream(self):
        """A chunked session of a causal model (``model.causal: true``); see ``codec.streaming``."""
        if not self.can_stream:
            raise StreamingUnsupported(f"{self.name} cannot stream: its model is not causal (model.causal: false)")
        from .streaming import CausalCodecSession

        return CausalCodecSession(self.codec, self.num_codebooks)

    def to(self, device) -> "CodecTokenizer":
        self.device = torch.device(device)
        self.codec.to(self.device)
        return self

    def _encode(self, wav: np.ndarray) -> np.ndarray:
        return self._encode_batch([wav])[0]

    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        """Pads to the longest item; per-item masks keep padding out of every item's codes."""
        lengths = torch.tensor([len(w) for w in wavs])
        batch = torch.zeros(len(wavs), int(lengths.max()), dtype=next(self.codec.parameters()).dtype)
        for i, w in enumerate(wavs):
            batch[i, : len(w)] = torch.from_numpy(w)
        codes = self.codec.encode(batch.to(self.device), lengths.to(self.device), self.num_codebooks).cpu().numpy()
        hop = self.codec.hop
        return [codes[i, :, : -(-int(n) // hop)] for i, n in enumerate(lengths)]

    def _decode(self, codes: np.ndarray, num_samples: int, tokens) -> np.ndarray:
        c = torch.from_numpy(np.asarray(codes, dtype=np.int64))[None].to(self.device)
        return self.codec.decode(c)[0].float().cpu().numpy()


def _read_run(path, trusted: bool = False) -> tuple[Codec, str, str]:
    """An end-to-end run folder (a path or an opened ``runs.RunFolder``) -> (codec, name, digest);
    ``trusted``: a shipped model (its config is built without pydantic: ``config.build_config``)."""
    run = path if isinstance(path, RunFolder) else open_run(path)
    try:
        cfg = config_from_data(run.config, run.data, None, run_config_from_dict, trusted)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    codec = Codec(cfg.model)
    digest = load_weights(codec, run.config, run.weights)
    return codec.eval(), cfg.name, digest


def _read_model(run: RunFolder, trusted: bool = False) -> tuple:
    """(codec, run name, weights digest) of a run folder of either design (``trusted``: a shipped
    model's)."""
    if run.design == "sourcefilter":
        from .sourcefilter.tokenizer import read_sf_run

        codec, cfg, digest = read_sf_run(run, trusted)
        return codec, cfg.name, digest
    return _read_run(run, trusted)


def _tokenizer(run: RunFolder, codec, name: str, version: str, digest: str, kbps: float | None = None,
               low: bool = False, rate_name: str | None = None) -> Tokenizer:
    """The tokenizer of a read model at ``kbps`` (None: every codebook); ``low``: the
    source-filter low-latency mode."""
    if run.design == "sourcefilter":
        from .sourcefilter.tokenizer import SourceFilterTokenizer, stages_for_kbps

        k = stages_for_kbps(codec, kbps, rate_name or name) if kbps is not None else None
        tok = SourceFilterTokenizer(codec, name, version, k, latency="low" if low else "file")
        tok.model_id = digest
        return tok
    if low:
        raise SpeechtokError(f"{name}: +lowlatency is a mode of the source-filter models with the fast analysis")
    sizes = list(codec.codebook_sizes[: codec.quantizer.num_codebooks])
    k = codebooks_for_kbps(codec.cfg.frame_rate, sizes, kbps, rate_name or name) if kbps is not None else None
    return CodecTokenizer(codec, name, version, k, model_id=digest)


def load_run(path: str | Path, kbps: float | None = None, rate: str | None = None) -> Tokenizer:
    """A tokenizer from a training run folder (or a weights file in one), at ``kbps`` (one of
    the rates it offers; None: every codebook). Its name is the run's (``@rate`` appended)."""
    run = open_run(path)
    codec, run_name, digest = _read_model(run)
    name = f"{run_name}@{rate}" if rate else run_name
    return _tokenizer(run, codec, name, f"{run_name}+{digest}", digest, kbps, rate_name=f"{path}@{rate}" if rate else None)


def load_run_at(path: Path, rate: str) -> Tokenizer:
    """A run folder at one of its bitrates (``rate`` like "1.45kbps"); named like a shipped
    model, RUN_NAME@RATE (benchmarks tell two rates of one run apart)."""
    try:
        kbps = float(rate.removesuffix("kbps"))
    except ValueError:
        raise SpeechtokError(f"{path}@{rate}: the bitrate must look like 1.45kbps") from None
    return load_run(path, kbps, rate)


#: shipped model folder -> (run, codec, run name, digest): each is read once per process; their
#: configs are trusted (checked by tests/test_config.py, not again on every load)
_SHIPPED: dict[Path, tuple] = {}


def _shipped(folder: Path) -> tuple:
    if folder not in _SHIPPED:
        run = open_run(folder)
        _SHIPPED[folder] = (run, *_read_model(run, trusted=True))
    return _SHIPPED[folder]


def names() -> list[str]:
    """Every shipped model's names (``catalogue.names`` lists the source-filter ones without this)."""
    out = []
    if MODELS_DIR.exists():
        for d in sorted(MODELS_DIR.iterdir()):
            if (d / "config.yaml").exists() and (d / "model.safetensors").exists():
                run = open_run(d)
                if run.design == "sourcefilter":
                    from .sourcefilter.tokenizer import kbps_options, sf_config_from_dict

                    sf = config_from_data(run.config, run.data, None, sf_config_from_dict, trusted=True).model
                    low = sf.analysis.method == "stft" and sf.quant.semantic != "teacher"
                    for base in (d.name, f"{d.name}+lowlatency") if low else (d.name,):
                        out.append(base)
                        out.extend(f"{base}@{k:g}kbps" for k in kbps_options(sf))
                    continue
                cfg = config_from_data(run.config, run.data, None, run_config_from_dict, trusted=True).model
                q = cfg.quantizer
                size = q.codebook_size if q.kind != "fsq" else int(np.prod(q.levels))
                n = q.num_quantizers if q.kind != "vq" else 1
                out.append(d.name)
                if n > 1:
                    out.extend(f"{d.name}@{k:g}kbps" for k in prefix_kbps(cfg.frame_rate, [size] * n))
    return out


def resolve(name: str):
    m = _SUFFIX.match(name)
    if not m or not (MODELS_DIR / m["base"] / "config.yaml").exists():
        return None
    run, codec, _, digest = _shipped(MODELS_DIR / m["base"])
    return _tokenizer(run, codec, name, f"{m['base']}+{digest}", digest, float(m["rate"]) if m["rate"] else None,
                      bool(m["low"]))
