"""Other projects' tokenizers behind speechtok's interface, when their package and weights exist.

Names (``speechtok.load(name)``)::

    encodec@24khz:{1.5,3,6,12,24}kbps   EnCodec via transformers (facebook/encodec_24khz), 75 Hz × 2-32 × 1024
    dac@{16,24,44}khz[:Nq]              DAC via transformers (descript/dac_*), all codebooks or the first N
    mimi[:Nq]                           Mimi via transformers (kyutai/mimi), 12.5 Hz, 8 codebooks by default
    snac@{24,32,44}khz                  SNAC (``snac`` package); its 3-4 scales are laid out as rows, see SNACTokenizer
    speechtokenizer[:Nq]                SpeechTokenizer (``speechtokenizer`` package, fnlp/SpeechTokenizer), 50 Hz × 8
    s3tokenizer[@v2|@v1]                S3Tokenizer (``s3tokenizer`` package), v2: 25 Hz × 6561, v1: 50 Hz × 4096;
                                        encode-only

Weights come from the Hugging Face hub on first use (then its cache). A missing package or
unreachable weights raise MissingDependencyError saying what to install or download.
``build(name, pretrained=False)`` makes the same architecture with random weights (for speed
measurements and tests; ``config`` overrides shrink it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..errors import MissingDependencyError
from .base import Tokenizer


# ---- name parsing ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    family: str
    variant: str | None  # "24khz", "v1", ...
    setting: str | None  # "6kbps", "8q", ...


_NAME = re.compile(r"^(?P<family>[a-z0-9]+)(?:@(?P<variant>[a-z0-9.]+))?(?::(?P<setting>[a-z0-9.]+))?$")

ENCODEC_BANDWIDTHS = (1.5, 3.0, 6.0, 12.0, 24.0)
DAC_REPOS = {"16khz": "descript/dac_16khz", "24khz": "descript/dac_24khz", "44khz": "descript/dac_44khz"}
#: the released DAC architectures (transformers' DacConfig fields), for random-weight builds
DAC_CONFIGS = {
    "16khz": dict(sampling_rate=16000, downsampling_ratios=[2, 4, 5, 8], n_codebooks=12),
    "24khz": dict(sampling_rate=24000, downsampling_ratios=[2, 4, 5, 8], n_codebooks=32),
    "44khz": dict(sampling_rate=44100, downsampling_ratios=[2, 4, 8, 8], n_codebooks=9),
}
SNAC_REPOS = {"24khz": "hubertsiuzdak/snac_24khz", "32khz": "hubertsiuzdak/snac_32khz",
              "44khz": "hubertsiuzdak/snac_44khz"}
#: the released SNAC architectures (snac.SNAC arguments)
SNAC_CONFIGS = {
    "24khz": dict(sampling_rate=24000, encoder_dim=48, encoder_rates=[2, 4, 8, 8], decoder_dim=1024,
                  decoder_rates=[8, 8, 4, 2], attn_window_size=None, codebook_size=4096, codebook_dim=8,
                  vq_strides=[4, 2, 1], noise=True, depthwise=True),
    "32khz": dict(sampling_rate=32000, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
                  decoder_rates=[8, 8, 3, 2], attn_window_size=32, codebook_size=4096, codebook_dim=8,
                  vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
    "44khz": dict(sampling_rate=44100, encoder_dim=64, encoder_rates=[2, 3, 8, 8], decoder_dim=1536,
                  decoder_rates=[8, 8, 3, 2], attn_window_size=32, codebook_size=4096, codebook_dim=8,
                  vq_strides=[8, 4, 2, 1], noise=True, depthwise=True),
}
#: variant -> (model name, frames per second, codebook size)
S3_MODELS = {"v1": ("speech_tokenizer_v1", 50.0, 4096), "v2": ("speech_tokenizer_v2_25hz", 25.0, 3**8)}


def names() -> list[str]:
    out = [f"encodec@24khz:{b:g}kbps" for b in ENCODEC_BANDWIDTHS]
    out += [f"dac@{v}" for v in DAC_REPOS] + ["mimi"] + [f"snac@{v}" for v in SNAC_REPOS]
    return out + ["speechtokenizer", "s3tokenizer"]


def family_of(name: str) -> Spec | None:
    """The parsed name if it belongs to one of these families (whether or not it is valid)."""
    m = _NAME.match(str(name))
    if not m or m["family"] not in _BUILDERS:
        return None
    return Spec(m["family"], m["variant"], m["setting"])


def resolve(name: str) -> Tokenizer | None:
    return build(name) if family_of(name) else None


def build(name: str, pretrained: bool = True, config: dict | None = None) -> Tokenizer:
    """The tokenizer ``name``; ``pretrained=False`` gives the same architecture with random weights
    (``config`` entries override the architecture, e.g. to make it tiny in tests)."""
    spec = family_of(name)
    if spec is None:
        raise ValueError(f"{name!r} is not an external tokenizer name ({', '.join(names())})")
    return _BUILDERS[spec.family](name, spec, pretrained, dict(config or {}))


def _num_q(spec: Spec, name: str, default: int | None) -> int | None:
    if spec.setting is None:
        return default
    m = re.fullmatch(r"(\d+)q", spec.setting)
    if not m or int(m[1]) < 1:
        raise ValueError(f"{name}: the setting after ':' is a number of codebooks like ':8q', got {spec.setting!r}")
    return int(m[1])


def _variant(spec: Spec, name: str, allowed, default=None) -> str:
    v = spec.variant or default
    if v not in allowed:
        raise ValueError(f"{name}: unknown variant {spec.variant!r}; one of {', '.join(allowed)}")
    return v


def _import(module: str, package: str, extra: str = ""):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(f"this tokenizer needs the {package!r} package: pip install {package}{extra} ({e})") from None


def _import_without_torchaudio(module: str, package: str):
    """Import ``module`` whose package imports torchaudio at the top for training or file loading
    only (speechtokenizer, s3tokenizer), without installing torchaudio (it would replace torch).

    When torchaudio is missing, a stand-in is in ``sys.modules`` during the import only; the
    package's modules keep it, and any use of it raises MissingDependencyError. The inference
    paths used here do not touch it.
    """
    import importlib
    import importlib.util
    import sys
    import types

    if module in sys.modules or importlib.util.find_spec("torchaudio") is not None:
        return _import(module, package)

    class _Missing(types.ModuleType):
        def __getattr__(self, attr):
            if attr.startswith("__"):  # introspection (hasattr(m, "__file__")...) must see a plain module
                raise AttributeError(attr)
            raise MissingDependencyError(f"{package} wants torchaudio.{attr}, which is not installed "
                                         f"(speechtok uses only {package}'s inference path)")

    sys.modules["torchaudio"] = _Missing("torchaudio")
    try:
        return _import(module, package, " --no-deps")
    finally:
        del sys.modules["torchaudio"]


def _from_hub(load, repo: str, name: str):
    """Run ``load(repo)``; turn 'no weights / no network' into a clear MissingDependencyError."""
    try:
        return load(repo)
    except (OSError, ValueError) as e:
        raise MissingDependencyError(
            f"{name}: could not load the pretrained weights {repo!r} from the Hugging Face hub or its cache "
            f"({str(e).splitlines()[0]}). With network they download on first use; offline, copy the hub "
            f"cache here, or use build(..., pretrained=False) for random weights"
        ) from None


# ---- transformers codecs (EnCodec, DAC, Mimi) --------------------------------------------------
class TorchCodecTokenizer(Tokenizer):
    """Shared plumbing: a torch model in eval mode, float32 ``(samples,)`` in and out, no grad."""

    version_prefix = ""

    def __init__(self, name: str, model, *, sample_rate: int, frame_rate: float, codebook_sizes, version: str):
        self.name, self.model = name, model.eval()
        self.sample_rate, self.frame_rate = int(sample_rate), float(frame_rate)
        self.codebook_sizes = tuple(int(s) for s in codebook_sizes)
        self.version = version

    def _tensor(self, wav: np.ndarray):
        import torch

        return torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))[None, None]  # (1, 1, samples)

    def _encode(self, wav):
        import torch

        with torch.inference_mode():
            return self._encode_torch(self._tensor(wav)).cpu().numpy().astype(np.int64)

    def _decode(self, codes, num_samples, tokens):
        import torch

        with torch.inference_mode():
            out = self._decode_torch(torch.from_numpy(np.asarray(codes, np.int64)))
        return out.reshape(-1).float().cpu().numpy()

    def _encode_torch(self, x):  # (1, 1, samples) -> (K, T)
        raise NotImplementedError

    def _decode_torch(self, codes):  # (K, T) -> waveform
        raise NotImplementedError


def _weights_tag(pretrained: bool, repo: str) -> str:
    return repo if pretrained else "random"


class EncodecTokenizer(TorchCodecTokenizer):
    def __init__(self, name, model, bandwidth: float, version: str):
        c = model.config
        frame_rate = c.sampling_rate / math.prod(c.upsampling_ratios)
        n_q = int(max(1, math.floor(bandwidth * 1000 / (frame_rate * math.log2(c.codebook_size)))))
        super().__init__(name, model, sample_rate=c.sampling_rate, frame_rate=frame_rate,
                         codebook_sizes=[c.codebook_size] * n_q, version=version)
        self.bandwidth = bandwidth

    def _encode_torch(self, x):
        out = self.model.encode(x, bandwidth=self.bandwidth)
        if len(out.audio_codes) != 1:  # chunked configs (48 kHz) would need their scales kept
            raise ValueError("chunked EnCodec models are not supported")
        return out.audio_codes[0, 0]

    def _decode_torch(self, codes):
        return self.model.decode(codes[None, None], [None])[0]


def _build_encodec(name, spec, pretrained, config):
    _variant(spec, name, ("24khz",), "24khz")
    m = re.fullmatch(r"([\d.]+)kbps", spec.setting or "6kbps")
    if not m or float(m[1]) not in ENCODEC_BANDWIDTHS:
        raise ValueError(f"{name}: bandwidth must be one of {', '.join(f'{b:g}kbps' for b in ENCODEC_BANDWIDTHS)}")
    tf = _import("transformers", "transformers")
    repo = "facebook/encodec_24khz"
    model = (_from_hub(tf.EncodecModel.from_pretrained, repo, name) if pretrained
             else tf.EncodecModel(tf.EncodecConfig(**config)))
    return EncodecTokenizer(name, model, float(m[1]), f"{_weights_tag(pretrained, repo)} transformers-{tf.__version__}")


class DacTokenizer(TorchCodecTokenizer):
    def __init__(self, name, model, n_q: int | None, version: str):
        c = model.config
        n_q = min(n_q or c.n_codebooks, c.n_codebooks)
        super().__init__(name, model, sample_rate=c.sampling_rate, frame_rate=c.sampling_rate / c.hop_length,
                         codebook_sizes=[c.codebook_size] * n_q, version=version)

    def _encode_torch(self, x):
        return self.model.encode(x, n_quantizers=self.num_codebooks).audio_codes[0, : self.num_codebooks]

    def _decode_torch(self, codes):
        return self.model.decode(audio_codes=codes[None]).audio_values


def _build_dac(name, spec, pretrained, config):
    v = _variant(spec, name, tuple(DAC_REPOS), "16khz")
    tf = _import("transformers", "transformers")
    repo = DAC_REPOS[v]
    model = (_from_hub(tf.DacModel.from_pretrained, repo, name) if pretrained
             else tf.DacModel(tf.DacConfig(**(DAC_CONFIGS[v] | config))))
    return DacTokenizer(name, model, _num_q(spec, name, None), f"{_weights_tag(pretrained, repo)} transformers-{tf.__version__}")


class MimiTokenizer(TorchCodecTokenizer):
    def __init__(self, name, model, n_q: int, version: str):
        c = model.config
        n_q = min(n_q, c.num_quantizers)
        super().__init__(name, model, sample_rate=c.sampling_rate, frame_rate=c.frame_rate,
                         codebook_sizes=[c.codebook_size] * n_q, version=version)

    def _encode_torch(self, x):
        return self.model.encode(x, num_quantizers=self.num_codebooks).audio_codes[0]

    def _decode_torch(self, codes):
        return self.model.decode(codes[None]).audio_values


def _build_mimi(name, spec, pretrained, config):
    if spec.variant:
        raise ValueError(f"{name}: mimi has no variants; use 'mimi' or 'mimi:Nq'")
    tf = _import("transformers", "transformers")
    repo = "kyutai/mimi"
    model = (_from_hub(tf.MimiModel.from_pretrained, repo, name) if pretrained
             else tf.MimiModel(tf.MimiConfig(**config)))
    return MimiTokenizer(name, model, _num_q(spec, name, 8), f"{_weights_tag(pretrained, repo)} transformers-{tf.__version__}")


# ---- SNAC --------------------------------------------------------------------------------------
class SNACTokenizer(TorchCodecTokenizer):
    """SNAC's scales (coarse to fine, strides e.g. 4, 2, 1) as rows of one ``[K, T]`` array at the
    coarsest rate: a coarse frame holds 1 code of the coarsest scale, then 2 of the next, 4, (8)...
    so K = Σ stride_max / stride_i (7 for 24 kHz, 15 for 32/44 kHz)."""

    def __init__(self, name, model, version: str):
        strides = list(model.vq_strides)
        self.groups = [strides[0] // s for s in strides]  # codes per coarse frame for each scale
        # inputs are padded to this many samples (what SNAC.preprocess does)
        self.pad_to = model.hop_length * math.lcm(strides[0], model.attn_window_size or 1)
        super().__init__(name, model, sample_rate=model.sampling_rate,
                         frame_rate=model.sampling_rate / (model.hop_length * strides[0]),
                         codebook_sizes=[model.codebook_size] * sum(self.groups), version=version)

    def _encode_torch(self, x):
        import torch

        x = torch.nn.functional.pad(x, (0, -x.shape[-1] % self.pad_to))
        scales = self.model.encode(x)  # list of (1, T * g)
        t = scales[0].shape[-1]
        return torch.cat([s[0].reshape(t, g).T for s, g in zip(scales, self.groups)])  # (Σg, T)

    def _decode_torch(self, codes):
        scales, row = [], 0
        for g in self.groups:
            scales.append(codes[row : row + g].T.reshape(1, -1))
            row += g
        return self.model.decode(scales)


def _build_snac(name, spec, pretrained, config):
    v = _variant(spec, name, tuple(SNAC_REPOS), "24khz")
    if spec.setting:
        raise ValueError(f"{name}: SNAC has no settings")
    snac = _import("snac", "snac")
    repo = SNAC_REPOS[v]
    model = (_from_hub(snac.SNAC.from_pretrained, repo, name) if pretrained
             else snac.SNAC(**(SNAC_CONFIGS[v] | config)))
    from importlib.metadata import version

    return SNACTokenizer(name, model, f"{_weights_tag(pretrained, repo)} snac-{version('snac')}")


# ---- SpeechTokenizer ---------------------------------------------------------------------------
#: the released architecture (fnlp/SpeechTokenizer speechtokenizer_hubert_avg/config.json)
SPEECHTOKENIZER_CONFIG = dict(
    n_filters=64, strides=[8, 5, 4, 2], dimension=1024, semantic_dimension=768, bidirectional=True,
    dilation_base=2, residual_kernel_size=3, n_residual_layers=1, lstm_layers=2, activation="ELU",
    codebook_size=1024, n_q=8, sample_rate=16000,
)


class SpeechTokenizerTokenizer(TorchCodecTokenizer):
    def __init__(self, name, model, config: dict, n_q: int, version: str):
        super().__init__(name, model, sample_rate=config["sample_rate"],
                         frame_rate=config["sample_rate"] / math.prod(config["strides"]),
                         codebook_sizes=[config["codebook_size"]] * min(n_q, config["n_q"]), version=version)

    def _encode_torch(self, x):
        return self.model.encode(x, n_q=self.num_codebooks)[:, 0]  # (n_q, 1, T) -> (n_q, T)

    def _decode_torch(self, codes):
        return self.model.decode(codes[:, None])


def _build_speechtokenizer(name, spec, pretrained, config):
    if spec.variant:
        raise ValueError(f"{name}: use 'speechtokenizer' or 'speechtokenizer:Nq'")
    st = _import_without_torchaudio("speechtokenizer", "speechtokenizer")
    cfg = SPEECHTOKENIZER_CONFIG | config
    repo = "fnlp/SpeechTokenizer"
    if pretrained:
        def load(repo_id):
            from huggingface_hub import hf_hub_download

            folder = "speechtokenizer_hubert_avg"
            cfg_path = hf_hub_download(repo_id, f"{folder}/config.json")
            ckpt = hf_hub_download(repo_id, f"{folder}/SpeechTokenizer.pt")
            return st.SpeechTokenizer.load_from_checkpoint(cfg_path, ckpt)

        model = _from_hub(load, repo, name)
    else:
        model = st.SpeechTokenizer(cfg)
    from importlib.metadata import version

    return SpeechTokenizerTokenizer(name, model, cfg, _num_q(spec, name, cfg["n_q"]),
                                    f"{_weights_tag(pretrained, repo)} speechtokenizer-{version('speechtokenizer')}")


# ---- S3Tokenizer (encode-only) -----------------------------------------------------------------
class S3Tokenizer(TorchCodecTokenizer):
    """CosyVoice's supervised semantic tokens: 16 kHz speech -> one codebook. No decoder (CosyVoice
    resynthesises them with a flow-matching model), so the bench keeps token statistics and speed,
    and skips reconstruction metrics."""

    can_decode = False

    def __init__(self, name, model, frame_rate: float, codebook_size: int, version: str):
        super().__init__(name, model, sample_rate=16000, frame_rate=frame_rate, codebook_sizes=[codebook_size],
                         version=version)
        self._s3 = _import_without_torchaudio("s3tokenizer", "s3tokenizer")

    def _encode_torch(self, x):
        import torch

        mel = self._s3.log_mel_spectrogram(x[0, 0])  # (128, frames at 100 Hz)
        codes, lens = self.model.quantize(mel[None], torch.tensor([mel.shape[-1]]))
        return codes[:, : int(lens[0])]  # (1, T)

    def _decode_torch(self, codes):
        raise NotImplementedError


def _build_s3tokenizer(name, spec, pretrained, config):
    v = _variant(spec, name, tuple(S3_MODELS), "v2")
    if spec.setting:
        raise ValueError(f"{name}: S3Tokenizer has no settings")
    s3 = _import_without_torchaudio("s3tokenizer", "s3tokenizer")
    model_name, frame_rate, size = S3_MODELS[v]
    if pretrained:
        model = _from_hub(s3.load_model, model_name, name)
    else:
        from s3tokenizer import model as v1, model_v2 as v2

        module, cls = (v1, v1.S3Tokenizer) if v == "v1" else (v2, v2.S3TokenizerV2)
        model = cls(model_name, module.ModelConfig(**config))
    from importlib.metadata import version

    return S3Tokenizer(name, model, frame_rate, size,
                       f"{_weights_tag(pretrained, model_name)} s3tokenizer-{version('s3tokenizer')}")


_BUILDERS = {
    "encodec": _build_encodec,
    "dac": _build_dac,
    "mimi": _build_mimi,
    "snac": _build_snac,
    "speechtokenizer": _build_speechtokenizer,
    "s3tokenizer": _build_s3tokenizer,
}
