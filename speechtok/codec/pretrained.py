"""Our codec as a `Tokenizer`: shipped models by name, and any training run folder by path."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..errors import SpeechtokError
from ..fsutil import file_digest
from ..tokenizers.base import Tokenizer
from .config import load_run_config, read_design
from .model import Codec

MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
# shipped model -> named bitrates (codebooks used); a plain name uses every codebook;
# "+lowlatency" after the model: a source-filter model's low-latency (streaming) mode
_SUFFIX = re.compile(r"^(?P<base>[^@+]+)(?P<low>\+lowlatency)?(?:@(?P<rate>[0-9.]+)kbps)?$")


class CodecTokenizer(Tokenizer):
    """Wraps a `Codec`. ``num_codebooks`` < the model's selects a lower bitrate (RVQ dropout).
    ``model_id`` (a short hash of the weights file) goes into every Tokens it makes."""

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

    def to(self, device) -> "CodecTokenizer":
        self.device = torch.device(device)
        self.codec.to(self.device)
        return self

    def _encode(self, wav: np.ndarray) -> np.ndarray:
        return self._encode_batch([wav])[0]

    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        """Pads to the longest item; per-item masks keep padding out of every item's codes."""
        lengths = torch.tensor([len(w) for w in wavs])
        batch = torch.zeros(len(wavs), int(lengths.max()))
        for i, w in enumerate(wavs):
            batch[i, : len(w)] = torch.from_numpy(w)
        codes = self.codec.encode(batch.to(self.device), lengths.to(self.device), self.num_codebooks).cpu().numpy()
        hop = self.codec.hop
        return [codes[i, :, : -(-int(n) // hop)] for i, n in enumerate(lengths)]

    def _decode(self, codes: np.ndarray, num_samples: int, tokens) -> np.ndarray:
        c = torch.from_numpy(np.asarray(codes, dtype=np.int64))[None].to(self.device)
        return self.codec.decode(c)[0].float().cpu().numpy()


def _read_run(path: Path) -> tuple[Codec, str, str]:
    """A run folder (config.yaml + model.safetensors) or a .safetensors file with config.yaml beside it."""
    config, weights = run_files(path)
    try:
        cfg = load_run_config(config)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    codec = Codec(cfg.model)
    load_weights(codec, config, weights)
    return codec.eval(), cfg.name, file_digest(weights)


def run_files(path: Path) -> tuple[Path, Path]:
    """``(config.yaml, model.safetensors)`` of a run folder (or of a weights file's folder), or a
    SpeechtokError naming what is missing."""
    folder = path if path.is_dir() else path.parent
    weights = path if path.suffix == ".safetensors" else folder / "model.safetensors"
    config = folder / "config.yaml"
    for f, what in ((config, "config.yaml"), (weights, "model.safetensors")):
        if not f.exists():
            raise SpeechtokError(f"{folder}: not a speechtok run folder (no {what})")
    return config, weights


def load_weights(model: torch.nn.Module, config: Path, weights: Path, optional: tuple[str, ...] = ()) -> None:
    """safetensors -> ``model`` (as float32), every key accounted for except those starting with
    an ``optional`` prefix; errors name the file."""
    from safetensors.torch import load_file

    try:
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(weights)).items()}
    except Exception as e:
        raise SpeechtokError(f"{weights}: cannot read weights ({e})") from None
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.startswith(optional)] if optional else missing
    if missing or unexpected:
        raise SpeechtokError(f"{weights}: weights do not match {config} (missing {missing[:3]}, unexpected {unexpected[:3]})")


def _design(folder: Path) -> str:
    config = folder / "config.yaml"
    if not config.exists():
        return "endtoend"  # _read_run names what is missing
    try:
        return read_design(config)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None


def load_run(path: str | Path, num_codebooks: int | None = None) -> Tokenizer:
    path = Path(path)
    if _design(path if path.is_dir() else path.parent) == "sourcefilter":
        from .sourcefilter.tokenizer import SourceFilterTokenizer, read_sf_run

        codec, cfg, digest = read_sf_run(path)
        tok = SourceFilterTokenizer(codec, cfg.name, f"{cfg.name}+{digest}", num_codebooks - 1 if num_codebooks else None)
        tok.model_id = digest
        return tok
    codec, name, digest = _read_run(path)
    return CodecTokenizer(codec, name, f"{name}+{digest}", num_codebooks, model_id=digest)


def load_run_at(path: Path, rate: str) -> Tokenizer:
    """A run folder at one of its bitrates (``rate`` like "1.45kbps")."""
    try:
        kbps = float(rate.removesuffix("kbps"))
    except ValueError:
        raise SpeechtokError(f"{path}@{rate}: the bitrate must look like 1.45kbps") from None
    name = f"{path}@{rate}"
    if _design(path) == "sourcefilter":
        from .sourcefilter.tokenizer import read_sf_run, stages_for_kbps

        codec, _, _ = read_sf_run(path)
        tok = load_run(path, stages_for_kbps(codec, kbps, name) + 1)
    else:
        codec, _, _ = _read_run(path)
        tok = load_run(path, _kbps_to_codebooks(codec, kbps, name))
    # like a shipped model's name: RUN_NAME@RATE (benchmarks tell two rates of one run apart)
    tok.name = f"{tok.name}@{rate}"
    return tok


@lru_cache(maxsize=8)
def _shipped(base: str) -> tuple[Codec, str, str]:
    return _read_run(MODELS_DIR / base)


@lru_cache(maxsize=8)
def _shipped_sf(base: str):
    from .sourcefilter.tokenizer import read_sf_run

    return read_sf_run(MODELS_DIR / base)


def _kbps_to_codebooks(codec: Codec, kbps: float, name: str) -> int:
    per_codebook = codec.cfg.frame_rate * np.log2(codec.codebook_sizes[0]) / 1000
    k = int(round(kbps / per_codebook))
    if k < 1 or k > codec.quantizer.num_codebooks or abs(k * per_codebook - kbps) > 0.05:
        options = ", ".join(f"{i * per_codebook:g}" for i in range(1, codec.quantizer.num_codebooks + 1))
        raise SpeechtokError(f"{name}: this model offers {options} kbps")
    return k


def names() -> list[str]:
    out = []
    if MODELS_DIR.exists():
        for d in sorted(MODELS_DIR.iterdir()):
            if (d / "config.yaml").exists() and (d / "model.safetensors").exists():
                if _design(d) == "sourcefilter":
                    from .sourcefilter.tokenizer import kbps_options, load_sf_config

                    sf = load_sf_config(d / "config.yaml").model
                    low = sf.analysis.method == "stft" and sf.quant.semantic != "teacher"
                    for base in (d.name, f"{d.name}+lowlatency") if low else (d.name,):
                        out.append(base)
                        out.extend(f"{base}@{k:g}kbps" for k in kbps_options(sf))
                    continue
                cfg = load_run_config(d / "config.yaml").model
                per = cfg.frame_rate * np.log2(cfg.quantizer.codebook_size if cfg.quantizer.kind != "fsq" else np.prod(cfg.quantizer.levels)) / 1000
                out.append(d.name)
                n = cfg.quantizer.num_quantizers if cfg.quantizer.kind != "vq" else 1
                if n > 1:
                    out.extend(f"{d.name}@{k * per:g}kbps" for k in range(1, n + 1))
    return out


def resolve(name: str):
    m = _SUFFIX.match(name)
    if not m or not (MODELS_DIR / m["base"] / "config.yaml").exists():
        return None
    if _design(MODELS_DIR / m["base"]) == "sourcefilter":
        from .sourcefilter.tokenizer import SourceFilterTokenizer, stages_for_kbps

        sf, _, digest = _shipped_sf(m["base"])
        k = stages_for_kbps(sf, float(m["rate"]), name) if m["rate"] else None
        tok = SourceFilterTokenizer(sf, name, f"{m['base']}+{digest}", k, latency="low" if m["low"] else "file")
        tok.model_id = digest
        return tok
    if m["low"]:
        raise SpeechtokError(f"{name}: +lowlatency is a mode of the source-filter models with the fast analysis")
    codec, model_name, digest = _shipped(m["base"])
    k = _kbps_to_codebooks(codec, float(m["rate"]), name) if m["rate"] else None
    return CodecTokenizer(codec, name, f"{m['base']}+{digest}", k, model_id=digest)
