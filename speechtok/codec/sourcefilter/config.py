"""Configuration of the source-filter codec and of its training runs (YAML <-> dataclasses;
defaults live here only). Importing this module registers the classes with the config engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import build_config, load_config, register_configs


@dataclass
class AnalysisConfig:
    method: str = "stft"  # "stft": batched-FFT analysis (fast.py); "world": pyworld DIO/CheapTrick/D4C (about 9x slower to encode)
    f0_min: float = 60.0
    f0_max: float = 600.0
    allowed_range: float = 0.4  # method world: DIO voicing threshold (0.1 = WORLD's default; see analysis.py)
    envelope_subframes: int = 2  # envelope samples per token frame (2 at 50 Hz = every 10 ms)
    cep_order: int = 24  # warped-cepstrum coefficients per envelope sample
    alpha: float = 0.42  # frequency warping (0.42 ~ mel at 16 kHz)
    ap_bands: int = 5  # aperiodicity bands (mel-spaced)
    # method "stft" only (fast.py): YIN thresholds, shortest voiced run, envelope window without pitch
    yin_threshold: float = 0.2  # chosen on the valid split (benchmarks/sourcefilter/README.md)
    voicing_threshold: float = 1.0
    min_voiced_ms: float = 20.0
    unvoiced_f0: float = 500.0
    # band aperiodicity (dB) of a clearly voiced frame; measured (D4C, train split) by
    # benchmarks/sourcefilter/voiced_profile.py; one value per ap_band
    voiced_bap_db: list = field(default_factory=lambda: [-50.8, -41.0, -24.7, -6.4, -2.1])
    segment_seconds: float = 1.0  # the encoder analyses fixed segments, so streaming == whole file
    context_seconds: float = 0.1  # audio either side of a segment that its analysis sees
    # the low-latency mode (method stft only; streaming.py): one frame per segment, this much
    # audio before it (rounded up to whole frames; costs compute, not latency) and after it only
    # what the longest analysis window needs
    low_latency_history_seconds: float = 0.1
    # the most audio after its frame a low-mode frame may read: at 50 Hz the envelope window of
    # the last subframe would read 22.9 ms; 20 ms shortens only windows for F0 below 60.2 Hz and
    # lets a frame's codes come out with the 20 ms chunk after it
    low_latency_lookahead_ms: float = 20.0


@dataclass
class QuantConfig:
    pitch_levels: int = 128  # 1 unvoiced symbol + 127 log-F0 steps (7 bits)
    codebook_size: int = 2048  # envelope/aperiodicity residual k-means codebooks
    num_stages: int = 3
    bap_scale: float = 20.0  # dB of band aperiodicity per unit of feature distance
    kmeans_iters: int = 20
    # the phones objective on the first envelope stage (semantic.py): "none", "joint" (k-means on
    # [features ; teacher posteriors], encode by features) or "teacher" (the same fit; the codec
    # keeps the teacher and encodes stage 1 with it)
    semantic: str = "none"
    semantic_weight: float = 0.0  # the teacher part's variance, relative to the features' (0 = plain)
    # "auto": detect a band limit in the input (8 kHz-sourced speech), choose codewords by the
    # in-band error and decode without energy above it (band.py); "off": always full band
    band_limit: str = "auto"
    # "utterance": the envelope codebooks see each utterance's cepstrum minus its mean (speaker and
    # channel normalization); the mean's first ``mean_order`` coefficients travel once per utterance
    # in Tokens.extra (6 bits each); "none": no side mean
    normalize: str = "none"
    mean_order: int = 16


@dataclass
class RefinerConfig:
    enabled: bool = False  # set by training only when it measurably beats the backbone
    channels: int = 256
    kernel_size: int = 5
    layers: int = 4
    # frames ahead an output may see: -1 = centred kernels (layers * (kernel_size // 2) frames);
    # >= 0: the future taps are cut, the first `lookahead` layers keeping one (the low-latency
    # mode's refiner, refine.py)
    lookahead: int = -1


@dataclass
class SynthConfig:
    block: int = 80  # synthesis block (5 ms at 16 kHz)
    n_fft: int = 512  # filter length per block: the envelope's minimum-phase responses are short
    seed: int = 1234  # the noise excitation (a fixed function of the sample index)
    gain_db: float = -1.5  # output level correction of pulse/noise excitation vs CheapTrick's scale


@dataclass
class SourceFilterConfig:
    sample_rate: int = 16000
    frame_rate: float = 50.0
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    refiner: RefinerConfig = field(default_factory=RefinerConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)

    @property
    def hop(self) -> int:
        return int(round(self.sample_rate / self.frame_rate))

    def validate(self) -> None:
        if self.sample_rate != 16000:
            raise ValueError("the source-filter codec runs at 16 kHz (sample_rate: 16000)")
        if self.sample_rate % self.frame_rate or self.hop % self.synth.block:
            raise ValueError(f"frame_rate {self.frame_rate} must give a hop that is a multiple of {self.synth.block} samples")
        if self.hop % self.analysis.envelope_subframes:
            raise ValueError("envelope_subframes must divide the frame hop")
        a, q = self.analysis, self.quant
        if a.method not in ("stft", "world"):
            raise ValueError(f"analysis.method must be 'stft' or 'world', not {a.method!r}")
        if len(a.voiced_bap_db) != a.ap_bands:
            raise ValueError(f"analysis.voiced_bap_db needs one value per ap_band ({a.ap_bands}), got {a.voiced_bap_db!r}")
        if not 0 < a.f0_min < a.f0_max:
            raise ValueError("analysis: need 0 < f0_min < f0_max")
        for name, v in (("cep_order", a.cep_order), ("ap_bands", a.ap_bands), ("envelope_subframes", a.envelope_subframes),
                        ("codebook_size", q.codebook_size), ("num_stages", q.num_stages), ("kmeans_iters", q.kmeans_iters)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, not {v!r}")
        if q.normalize not in ("none", "utterance"):
            raise ValueError(f"quant.normalize must be none or utterance, not {q.normalize!r}")
        if not 1 <= q.mean_order <= a.cep_order:
            raise ValueError(f"quant.mean_order must be in 1..analysis.cep_order ({a.cep_order}), not {q.mean_order!r}")
        if q.band_limit not in ("auto", "off"):
            raise ValueError(f"quant.band_limit must be auto or off, not {q.band_limit!r}")
        if q.semantic not in ("none", "joint", "teacher"):
            raise ValueError(f"quant.semantic must be none, joint or teacher, not {q.semantic!r}")
        if q.semantic != "none" and not q.semantic_weight > 0:
            raise ValueError(f"quant.semantic {q.semantic} needs quant.semantic_weight > 0")
        if q.semantic != "none" and self.hop % 320:
            raise ValueError("a semantic codebook needs a frame rate of 50, 25 or 12.5 Hz (its teacher runs at 50 Hz)")
        if a.segment_seconds <= 0 or a.context_seconds < 0 or a.low_latency_history_seconds < 0 or a.low_latency_lookahead_ms < 0:
            raise ValueError("analysis.segment_seconds must be > 0, context_seconds and low_latency_* >= 0")

    @property
    def feature_dim(self) -> int:
        return self.analysis.envelope_subframes * self.analysis.cep_order + self.analysis.ap_bands


#: utterances per shard of the training caches (analysis, teacher posteriors): both split alike
SHARD = 64


@dataclass
class SFTrainConfig:
    refiner_minutes: float = 0.0  # wall time for the refiner (0 = no refiner)
    refiner_steps: int = 0  # > 0: train the refiner for this many steps instead (tests, exact runs)
    refiner_batch: int = 16
    refiner_segment: int = 100  # frames per training segment
    refiner_lr: float = 1e-3
    devices: int = 1  # >1: that many CPU processes (gloo), or GPUs with accelerator gpu
    accelerator: str = "cpu"
    seed: int = 0
    workers: int = 1  # analysis processes
    valid_every: int = 500  # refiner steps between validation errors (the training curve)
    checkpoint_every: int = 500  # refiner steps between checkpoints (RUN/refiner.ckpt)
    semantic_teacher: str = ""  # PhoneCTC folder for model.quant.semantic ("" = the shipped one)
    kmeans_max_frames: int = 0  # > 0: fit the k-means on a seeded sample of this many frames (0 = all)
    # augmentation of the training frames (augment.py): this fraction of the utterances gets a random
    # vocal-tract warp (+-augment_warp), F0 factor (+-augment_pitch) and level (+-augment_level_db)
    augment_fraction: float = 0.0
    augment_warp: float = 0.12
    augment_pitch: float = 0.3
    augment_level_db: float = 6.0


@dataclass
class SFData:
    train: str = "data/asterisk/train.jsonl"
    valid: str = "data/asterisk/valid.jsonl"


@dataclass
class SFRunConfig:
    design: str = "sourcefilter"
    name: str = "speechtok-sf-run"
    model: SourceFilterConfig = field(default_factory=SourceFilterConfig)
    data: SFData = field(default_factory=SFData)
    train: SFTrainConfig = field(default_factory=SFTrainConfig)


register_configs(
    SourceFilterConfig, AnalysisConfig, QuantConfig, RefinerConfig, SynthConfig, SFData, SFTrainConfig, SFRunConfig,
    limits={
        "SourceFilterConfig": {"frame_rate": ">0"},
        "AnalysisConfig": {"f0_min": ">0", "f0_max": ">0", "allowed_range": ">0", "envelope_subframes": ">=1",
                           "cep_order": ">=2", "alpha": "0..0.99", "ap_bands": ">=1", "segment_seconds": ">0",
                           "context_seconds": ">=0", "low_latency_history_seconds": ">=0",
                           "low_latency_lookahead_ms": ">=0"},
        "QuantConfig": {"pitch_levels": ">=3", "codebook_size": ">=2", "num_stages": ">=1", "bap_scale": ">0",
                        "kmeans_iters": ">=1", "semantic_weight": ">=0"},
        "RefinerConfig": {"channels": ">=1", "kernel_size": ">=1", "layers": ">=1", "lookahead": ">=-1"},
        "SynthConfig": {"block": ">=1", "n_fft": ">=16"},
        "SFTrainConfig": {"refiner_minutes": ">=0", "refiner_steps": ">=0", "refiner_batch": ">=1",
                          "refiner_segment": ">=1", "refiner_lr": ">0", "devices": ">=1", "seed": ">=0",
                          "workers": ">=1", "valid_every": ">=1", "checkpoint_every": ">=1", "kmeans_max_frames": ">=0",
                          "augment_fraction": "0..1", "augment_warp": "0..0.5", "augment_pitch": "0..0.9",
                          "augment_level_db": ">=0"},
    },
)


def sf_config_from_dict(data: dict, where: str = "") -> SFRunConfig:
    cfg = build_config(SFRunConfig, data, where)
    cfg.model.validate()
    return cfg


def load_sf_config(path: str | Path, overrides: list[str] | None = None) -> SFRunConfig:
    """A source-filter run config from YAML (``section.key=value`` overrides; errors name the file)."""
    return load_config(path, overrides, sf_config_from_dict)
