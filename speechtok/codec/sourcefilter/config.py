"""Configuration of the source-filter codec and of its training runs (YAML <-> dataclasses made by
``codec.config.configclass``, checked by pydantic: unknown keys refused, limits on the field types;
defaults live here only)."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Annotated, Literal

from ..config import (Bool, Float, Ge, Int, Interval, NonNegFloat, NonNegInt, PosFloat, PosInt, Str, UnitFloat,
                      build_config, configclass, load_config)


@configclass
class AnalysisConfig:
    method: Literal["stft", "world"] = "stft"  # "stft": batched-FFT analysis (fast.py); "world": pyworld DIO/CheapTrick/D4C (about 9x slower to encode)
    f0_min: PosFloat = 60.0
    f0_max: PosFloat = 600.0
    allowed_range: PosFloat = 0.4  # method world: DIO voicing threshold (0.1 = WORLD's default; see analysis.py)
    envelope_subframes: PosInt = 2  # envelope samples per token frame (2 at 50 Hz = every 10 ms)
    cep_order: Annotated[Int, Ge(2)] = 24  # warped-cepstrum coefficients per envelope sample
    alpha: Annotated[Float, Interval(ge=0, le=0.99)] = 0.42  # frequency warping (0.42 ~ mel at 16 kHz)
    ap_bands: PosInt = 5  # aperiodicity bands (mel-spaced)
    # method "stft" only (fast.py): YIN thresholds, shortest voiced run, envelope window without pitch
    yin_threshold: Float = 0.2  # chosen on the valid split (benchmarks/sourcefilter/README.md)
    voicing_threshold: Float = 1.0
    min_voiced_ms: Float = 20.0
    unvoiced_f0: Float = 500.0
    # band aperiodicity (dB) of a clearly voiced frame; measured (D4C, train split) by
    # benchmarks/sourcefilter/voiced_profile.py; one value per ap_band
    voiced_bap_db: list[Float] = field(default_factory=lambda: [-50.8, -41.0, -24.7, -6.4, -2.1])
    segment_seconds: PosFloat = 1.0  # the encoder analyses fixed segments, so streaming == whole file
    context_seconds: NonNegFloat = 0.1  # audio either side of a segment that its analysis sees
    # the low-latency mode (method stft only; streaming.py): one frame per segment, this much
    # audio before it (rounded up to whole frames; costs compute, not latency) and after it only
    # what the longest analysis window needs
    low_latency_history_seconds: NonNegFloat = 0.1
    # the most audio after its frame a low-mode frame may read: at 50 Hz the envelope window of
    # the last subframe would read 22.9 ms; 20 ms shortens only windows for F0 below 60.2 Hz and
    # lets a frame's codes come out with the 20 ms chunk after it
    low_latency_lookahead_ms: NonNegFloat = 20.0


@configclass
class QuantConfig:
    pitch_levels: Annotated[Int, Ge(3)] = 128  # 1 unvoiced symbol + 127 log-F0 steps (7 bits)
    codebook_size: Annotated[Int, Ge(2)] = 2048  # envelope/aperiodicity residual k-means codebooks
    num_stages: PosInt = 3
    bap_scale: PosFloat = 20.0  # dB of band aperiodicity per unit of feature distance
    kmeans_iters: PosInt = 20
    # the phones objective on the first envelope stage (phonetic_stage.py): "none", "joint" (k-means on
    # [features ; teacher posteriors], encode by features) or "teacher" (the same fit; the codec
    # keeps the teacher and encodes stage 1 with it)
    semantic: Literal["none", "joint", "teacher"] = "none"
    semantic_weight: NonNegFloat = 0.0  # the teacher part's variance, relative to the features' (0 = plain)
    # "auto": detect a band limit in the input (8 kHz-sourced speech), choose codewords by the
    # in-band error and decode without energy above it (band.py); "off": always full band
    band_limit: Literal["auto", "off"] = "auto"
    # "utterance": the envelope codebooks see each utterance's cepstrum minus its mean (speaker and
    # channel normalization); the mean's first ``mean_order`` coefficients travel once per utterance
    # in Tokens.extra (6 bits each); "none": no side mean
    normalize: Literal["none", "utterance"] = "none"
    mean_order: Int = 16


@configclass
class RefinerConfig:
    enabled: Bool = False  # set by training only when it measurably beats the backbone
    channels: PosInt = 256
    kernel_size: PosInt = 5
    layers: PosInt = 4
    # frames ahead an output may see: -1 = centred kernels (layers * (kernel_size // 2) frames);
    # >= 0: the future taps are cut, the first `lookahead` layers keeping one (the low-latency
    # mode's refiner, refine.py)
    lookahead: Annotated[Int, Ge(-1)] = -1


@configclass
class SynthConfig:
    block: PosInt = 80  # synthesis block (5 ms at 16 kHz)
    n_fft: Annotated[Int, Ge(16)] = 512  # filter length per block: the envelope's minimum-phase responses are short
    seed: Int = 1234  # the noise excitation (a fixed function of the sample index)
    gain_db: Float = -1.5  # output level correction of pulse/noise excitation vs CheapTrick's scale


@configclass
class SourceFilterConfig:
    sample_rate: Int = 16000
    frame_rate: PosFloat = 50.0
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    quant: QuantConfig = field(default_factory=QuantConfig)
    refiner: RefinerConfig = field(default_factory=RefinerConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)

    @property
    def hop(self) -> int:
        return int(round(self.sample_rate / self.frame_rate))

    def validate(self) -> None:
        """The rules between fields (run when the config is built; again by the codec, for a
        config changed since)."""
        if self.sample_rate != 16000:
            raise ValueError("the source-filter codec runs at 16 kHz (sample_rate: 16000)")
        if self.sample_rate % self.frame_rate or self.hop % self.synth.block:
            raise ValueError(f"frame_rate {self.frame_rate} must give a hop that is a multiple of {self.synth.block} samples")
        if self.hop % self.analysis.envelope_subframes:
            raise ValueError("envelope_subframes must divide the frame hop")
        a, q = self.analysis, self.quant
        if len(a.voiced_bap_db) != a.ap_bands:
            raise ValueError(f"analysis.voiced_bap_db needs one value per ap_band ({a.ap_bands}), got {a.voiced_bap_db!r}")
        if not a.f0_min < a.f0_max:
            raise ValueError("analysis: need 0 < f0_min < f0_max")
        if not 1 <= q.mean_order <= a.cep_order:
            raise ValueError(f"quant.mean_order must be in 1..analysis.cep_order ({a.cep_order}), not {q.mean_order!r}")
        if q.semantic != "none" and not q.semantic_weight > 0:
            raise ValueError(f"quant.semantic {q.semantic} needs quant.semantic_weight > 0")
        if q.semantic != "none" and self.hop % 320:
            raise ValueError("a semantic codebook needs a frame rate of 50, 25 or 12.5 Hz (its teacher runs at 50 Hz)")

    @property
    def feature_dim(self) -> int:
        return self.analysis.envelope_subframes * self.analysis.cep_order + self.analysis.ap_bands


#: utterances per shard of the training caches (analysis, teacher posteriors): both split alike
SHARD = 64


@configclass
class SFTrainConfig:
    refiner_minutes: NonNegFloat = 0.0  # wall time for the refiner (0 = no refiner)
    refiner_steps: NonNegInt = 0  # > 0: train the refiner for this many steps instead (tests, exact runs)
    refiner_batch: PosInt = 16
    refiner_segment: PosInt = 100  # frames per training segment
    refiner_lr: PosFloat = 1e-3
    devices: PosInt = 1  # >1: that many CPU processes (gloo), or GPUs with accelerator gpu
    accelerator: Str = "cpu"
    seed: NonNegInt = 0
    workers: PosInt = 1  # analysis processes
    valid_every: PosInt = 500  # refiner steps between validation errors (the training curve)
    checkpoint_every: PosInt = 500  # refiner steps between checkpoints (RUN/refiner.ckpt)
    semantic_teacher: Str = ""  # PhoneCTC folder for model.quant.semantic ("" = the shipped one)
    kmeans_max_frames: NonNegInt = 0  # > 0: fit the k-means on a seeded sample of this many frames (0 = all)
    # augmentation of the training frames (augment.py): this fraction of the utterances gets a random
    # vocal-tract warp (+-augment_warp), F0 factor (+-augment_pitch) and level (+-augment_level_db)
    augment_fraction: UnitFloat = 0.0
    augment_warp: Annotated[Float, Interval(ge=0, le=0.5)] = 0.12
    augment_pitch: Annotated[Float, Interval(ge=0, le=0.9)] = 0.3
    augment_level_db: NonNegFloat = 6.0


@configclass
class SFData:
    train: Str = "data/asterisk/train.jsonl"
    valid: Str = "data/asterisk/valid.jsonl"


@configclass
class SFRunConfig:
    design: Literal["sourcefilter"] = "sourcefilter"
    name: Str = "speechtok-sf-run"
    model: SourceFilterConfig = field(default_factory=SourceFilterConfig)
    data: SFData = field(default_factory=SFData)
    train: SFTrainConfig = field(default_factory=SFTrainConfig)


def sf_config_from_dict(data: dict, where: str = "", trusted: bool = False) -> SFRunConfig:
    return build_config(SFRunConfig, data, where, trusted)


def load_sf_config(path: str | Path, overrides: list[str] | None = None) -> SFRunConfig:
    """A source-filter run config from YAML (``section.key=value`` overrides; errors name the file)."""
    return load_config(path, overrides, sf_config_from_dict)
