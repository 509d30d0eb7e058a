"""The source-filter codec: analysis -> tokens -> (refinement) -> synthesis.

Codes of one utterance are ``[codebook, frame]``: codebook 0 is the pitch stream
(``PitchQuantizer``), codebooks 1.. the residual k-means stages of the envelope + aperiodicity
vector. Using fewer envelope stages lowers the bitrate (each prefix of stages is a quantizer).
"""

from __future__ import annotations

import numpy as np
import torch

from .analysis import Frames, analyze, analyze_batch, bands_to_bins
from .config import SourceFilterConfig
from .quantize import PitchQuantizer, ResidualKMeans
from .refine import Refiner
from .synthesis import SynthState, Synthesizer, min_phase_from_cepstrum


_POOLS: dict = {}


def _pool(threads: int):
    from concurrent.futures import ThreadPoolExecutor

    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="sf-analysis")
    return _POOLS[threads]


class SourceFilterCodec(torch.nn.Module):
    def __init__(self, cfg: SourceFilterConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        a, q = cfg.analysis, cfg.quant
        self.pitch = PitchQuantizer(q.pitch_levels, a.f0_min, a.f0_max)
        self.teacher = None
        if q.semantic == "teacher":  # stage 1 is encoded with a phone teacher (semantic.py)
            from .teacher import EmbeddedPhoneTeacher

            self.teacher = EmbeddedPhoneTeacher()
        side_dim = self.teacher.model.frame_head.out_features if self.teacher is not None else 0
        self.rvq = ResidualKMeans(cfg.feature_dim, q.codebook_size, q.num_stages, side_dim)
        self.register_buffer("cep_mean", torch.zeros(a.envelope_subframes * a.cep_order))
        self.register_buffer("bap_mean", torch.zeros(a.ap_bands))
        self.refiner = Refiner(cfg.feature_dim, cfg.quant.pitch_levels, cfg.refiner)
        self.set_low_latency_refiner(None)
        self.low_refiner_id: str | None = None  # the digest of its file
        self.synth = Synthesizer(cfg.sample_rate, cfg.synth.block, cfg.synth.n_fft, cfg.synth.seed)

    def set_low_latency_refiner(self, refiner: Refiner | None) -> None:
        """The refiner the low-latency mode decodes with (None: none). It ships in its own file
        (``tokenizer.LOW_LATENCY_REFINER``), so it is kept out of this module's state dict."""
        if refiner is not None:
            refiner.eval()
        object.__setattr__(self, "low_refiner", refiner)

    def refiner_for(self, latency: str = "file", refine: bool | None = None) -> Refiner | None:
        """The refiner a latency mode decodes with: file mode the model's own (when its config
        enables it), low mode the low-latency one (when the model has one); ``refine=False``: none."""
        if refine is False:
            return None
        if latency == "low":
            return self.low_refiner
        return self.refiner if (refine or self.cfg.refiner.enabled) else None

    # ---- facts ------------------------------------------------------------------------------
    @property
    def hop(self) -> int:
        return self.cfg.hop

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.cfg.quant.pitch_levels,) + (self.cfg.quant.codebook_size,) * self.cfg.quant.num_stages

    @property
    def segment_frames(self) -> int:
        return max(1, int(round(self.cfg.analysis.segment_seconds * self.cfg.frame_rate)))

    @property
    def context_samples(self) -> int:
        return int(np.ceil(self.cfg.analysis.context_seconds * self.cfg.sample_rate / self.hop)) * self.hop

    def low_latency_refusal(self) -> str | None:
        """Why this model has no low-latency mode (None: it has one)."""
        if self.cfg.analysis.method != "stft":
            return "the low-latency mode needs the fast analysis (analysis.method: stft); WORLD's DIO looks further ahead"
        if self.teacher is not None:
            return "its encoder runs a bidirectional phone teacher over the whole file"
        return None

    def layout(self, latency: str = "file") -> tuple[int, int, int]:
        """The analysis segments of a latency mode: (frames per segment, samples of audio before
        a segment, samples after it) its analysis sees.

        ``"file"``: ``analysis.segment_seconds`` with ``context_seconds`` either side (the
        trained setting). ``"low"`` (method stft): one frame, ``low_latency_history_seconds``
        before it (whole frames), and after it just what the longest window of that frame reads
        (``_low_latency_reach``): the envelope window at 0.9 ``f0_min`` around its last subframe
        (shortened to ``low_latency_lookahead_ms``), and YIN's window one grid step past that
        subframe (for the 3-point median)."""
        if latency == "file":
            return self.segment_frames, self.context_samples, self.context_samples
        if latency != "low":
            raise ValueError(f"latency must be 'file' or 'low', not {latency!r}")
        why = self.low_latency_refusal()
        if why:
            raise ValueError(why)
        a, hop, sr = self.cfg.analysis, self.hop, self.cfg.sample_rate
        before = int(np.ceil(a.low_latency_history_seconds * sr / hop)) * hop
        return 1, before, self._low_latency_reach()[0]

    def _low_latency_reach(self) -> tuple[int, int]:
        """The low mode's (samples read after a frame, longest envelope half window)."""
        from . import fast
        from .analysis import _F0_STEP

        a, hop, sr = self.cfg.analysis, self.hop, self.cfg.sample_rate
        last_sub = (a.envelope_subframes - 1) * (hop // a.envelope_subframes) + hop // a.envelope_subframes // 2
        cap = int(round(a.low_latency_lookahead_ms * sr / 1000))
        f0 = last_sub + _F0_STEP + fast.yin_reach(sr, a.f0_min) - hop  # YIN at the grid point after the last subframe
        if f0 > cap:
            raise ValueError(f"analysis.low_latency_lookahead_ms must be at least {1000 * f0 / sr:.1f} ms "
                             f"(YIN's window at f0_min {a.f0_min:g} Hz)")
        half = min(fast.envelope_half(sr, a.f0_min, a.unvoiced_f0), hop + cap - last_sub - 1)
        return max(0, f0, last_sub + half + 1 - hop), half

    # ---- analysis ---------------------------------------------------------------------------
    def analyze_segment(self, padded: np.ndarray, latency: str = "file") -> Frames:
        """Audio of one segment with its context (``layout``; zeros beyond the file) -> the
        segment's frames."""
        return self._analyze_segments(np.asarray(padded)[None], latency)[0]

    def _analyze_segments(self, segments: np.ndarray, latency: str = "file") -> list[Frames]:
        """(B, before + segment + after) -> the Frames of each segment (context frames dropped)."""
        a, hop = self.cfg.analysis, self.hop
        S, before, after = self.layout(latency)
        if latency == "low":  # only the segment's frame; YIN's decisions bounded by the segment
            return analyze_batch(segments, self.cfg.sample_rate, hop, a, frames=(before // hop, S), open_edges=True,
                                 max_half=self._low_latency_reach()[1])
        c = before // hop
        n = (segments.shape[1] - before - after) // hop
        if a.method == "stft":  # all segments in the same FFT calls; the envelope of the segment's frames only
            return analyze_batch(segments, self.cfg.sample_rate, hop, a, frames=(c, n))
        frs = [analyze(seg, self.cfg.sample_rate, hop, a) for seg in segments]
        return [Frames(fr.f0[c : c + n], fr.cep[c : c + n], fr.bap[c : c + n]) for fr in frs]

    def analyze(self, wav: np.ndarray, latency: str = "file") -> Frames:
        """(samples,) -> Frames, ``ceil(samples / hop)`` of them, segment by segment."""
        return self.analyze_many([wav], latency)[0]

    _MAX_BATCH_SEGMENTS = 64  # segments per analysis call (memory: about 2 MB of frames each)

    def analyze_many(self, wavs: list[np.ndarray], latency: str = "file") -> list[Frames]:
        """Several utterances -> their Frames; with method stft the segments of all of them share
        the same FFT calls (equal to one by one: every segment is analysed on its own).
        ``latency``: the segment layout (``layout``; "low" = one frame per segment)."""
        hop = self.hop
        S, before, after = self.layout(latency)
        lengths, segments = [], []
        for wav in wavs:
            T = max(1, -(-len(wav) // hop))
            nseg = -(-T // S)
            x = np.zeros(before + nseg * S * hop + after, np.float64)
            x[before : before + len(wav)] = wav
            lengths.append((T, nseg))
            segments += [x[k * S * hop : (k + 1) * S * hop + before + after] for k in range(nseg)]
        segs = np.stack(segments)
        threads = torch.get_num_threads()
        if self.cfg.analysis.method == "world" and len(segs) > 1 and threads > 1:
            # WORLD's C code releases the GIL: segments run in parallel
            parts = [p[0] for p in _pool(threads).map(self._analyze_segments, segs[:, None])]
        else:  # method stft: batches of segments (about as many samples per call in either mode)
            fs, fb, fa = self.layout("file")
            n = max(1, self._MAX_BATCH_SEGMENTS * (fs * hop + fb + fa) // segs.shape[1])
            parts = [p for i in range(0, len(segs), n) for p in self._analyze_segments(segs[i : i + n], latency)]
        out, i = [], 0
        for T, nseg in lengths:
            out.append(Frames(*(np.concatenate([getattr(p, f) for p in parts[i : i + nseg]])[:T] for f in ("f0", "cep", "bap"))))
            i += nseg
        return out

    # ---- features <-> codes -------------------------------------------------------------------
    def features(self, fr: Frames) -> torch.Tensor:
        """Frames -> (T, feature_dim) vectors the codebooks quantize."""
        cep = torch.from_numpy(fr.cep.reshape(len(fr), -1)) - self.cep_mean
        bap = (torch.from_numpy(fr.bap) - self.bap_mean) / self.cfg.quant.bap_scale
        return torch.cat([cep, bap], 1).float()

    # ---- the side mean of quant.normalize: utterance ---------------------------------------------
    MEAN_BITS = 6  # per coefficient: -31..31 steps
    MEAN_STEP_C0 = 0.1  # nepers (0.87 dB): the level
    MEAN_STEP = 0.04  # nepers, the other coefficients

    @property
    def normalized(self) -> bool:
        return self.cfg.quant.normalize == "utterance"

    @property
    def side_bits(self) -> int:
        """Bits of the side mean that each utterance's tokens carry (0 without normalization)."""
        return self.MEAN_BITS * self.cfg.quant.mean_order if self.normalized else 0

    def _mean_steps(self, n: int) -> torch.Tensor:
        steps = torch.full((n,), self.MEAN_STEP)
        steps[0] = self.MEAN_STEP_C0
        return steps

    def quantize_mean(self, feats: torch.Tensor, order: int | None = None) -> np.ndarray:
        """(T, D) features -> (order,) int side mean: the mean cepstrum of the utterance (over
        frames and envelope subframes, relative to the model's global mean), quantized."""
        a = self.cfg.analysis
        order = order or self.cfg.quant.mean_order
        cep = feats[:, : a.envelope_subframes * a.cep_order].reshape(len(feats), a.envelope_subframes, a.cep_order)
        d = cep.mean((0, 1))[:order] if len(feats) else torch.zeros(order)
        lim = 2 ** (self.MEAN_BITS - 1) - 1
        return torch.round(d / self._mean_steps(order)).clamp(-lim, lim).to(torch.int64).numpy()

    def dequantize_mean(self, q) -> torch.Tensor:
        """(order,) ints -> (D,) the vector the features were shifted by (0 on the aperiodicity)."""
        a = self.cfg.analysis
        q = torch.as_tensor(np.asarray(q, np.int64))
        d = torch.zeros(a.cep_order)
        d[: len(q)] = q.float() * self._mean_steps(len(q))
        return torch.cat([d.repeat(a.envelope_subframes), torch.zeros(a.ap_bands)])

    def unfeatures(self, f0: np.ndarray, feats: torch.Tensor) -> Frames:
        a = self.cfg.analysis
        n = a.envelope_subframes * a.cep_order
        cep = (feats[:, :n] + self.cep_mean).numpy().reshape(len(f0), a.envelope_subframes, a.cep_order)
        bap = (feats[:, n:] * self.cfg.quant.bap_scale + self.bap_mean).clamp(max=0).numpy()
        return Frames(np.asarray(f0, np.float32), cep, bap)

    def band_limit(self, wav: np.ndarray) -> float | None:
        """The band limit (Hz) detected in ``wav``, or None (full band, or detection off)."""
        if self.cfg.quant.band_limit != "auto":
            return None
        from .band import detect_band_limit

        return detect_band_limit(wav, self.cfg.sample_rate)

    def metric(self, band_limit: float | None) -> torch.Tensor | None:
        """The in-band error metric of the feature vectors for ``band_limit`` (None: full band)."""
        from .band import in_band_metric

        a = self.cfg.analysis
        return in_band_metric(band_limit, self.cfg.sample_rate, a.cep_order, a.alpha, a.envelope_subframes, a.ap_bands)

    def quantize(self, fr: Frames, stages: int | None = None, side: torch.Tensor | None = None,
                 band_limit: float | None = None, mean=None) -> np.ndarray:
        """Frames -> int64 codes (1 + stages, T); ``side``: the teacher's coordinates (``teacher_side``);
        ``band_limit``: codewords are chosen by the error below it (``band.py``); ``mean``: the
        side mean (``quantize_mean``) of a normalized model (None: zeros, the global mean)."""
        x = self.features(fr)
        if self.normalized and mean is not None:
            x = x - self.dequantize_mean(mean)
        env = self.rvq.encode(x, stages, side, self.metric(band_limit)).numpy()
        return np.concatenate([self.pitch.encode(fr.f0)[None], env]).astype(np.int64)

    @torch.no_grad()
    def dequantize(self, codes: np.ndarray, refine: bool | None = None, latency: str = "file", mean=None) -> Frames:
        codes = np.asarray(codes, np.int64)
        f0 = self.pitch.decode(codes[0])
        feats = self.rvq.decode(torch.from_numpy(codes[1:]))
        refiner = self.refiner_for(latency, refine)
        if refiner is not None and codes.shape[0] > 1:
            feats = refiner.correct(feats, torch.from_numpy(codes[0]), codes.shape[0] - 1)
        if self.normalized and mean is not None:
            feats = feats + self.dequantize_mean(mean)
        return self.unfeatures(f0, feats)

    def teacher_side(self, wav: np.ndarray) -> torch.Tensor | None:
        """Stage 1's teacher coordinates of a whole utterance (None without a teacher)."""
        return None if self.teacher is None else self.teacher.side(wav, self.hop, self.cfg.sample_rate)

    def encode(self, wav: np.ndarray, stages: int | None = None, latency: str = "file", band_limit: float | None = None,
               mean=None) -> np.ndarray:
        return self.quantize(self.analyze(wav, latency), stages, self.teacher_side(wav), band_limit, mean)

    # ---- synthesis --------------------------------------------------------------------------
    def controls(self, fr: Frames, first_frame: int, j0: int, j1: int, band_limit: float | None = None):
        """Per-block synthesizer controls for blocks ``j0..j1`` (absolute indices) from frames
        ``first_frame..`` : (f0 (J,), minimum-phase envelope spectra (J, bins) complex,
        aperiodicity (J, bins)), as ``Synthesizer.render_filters`` takes them.

        Values are interpolated linearly between frame (or envelope subframe) centres, log-F0
        inside voiced runs; a block takes the voicing of its nearest frame."""
        hop, B, S = self.hop, self.cfg.synth.block, self.cfg.analysis.envelope_subframes
        T = len(fr)
        t_blk = np.arange(j0, j1) * B + B / 2
        t_frm = (first_frame + np.arange(T)) * hop + hop / 2
        t_sub = ((first_frame * S + np.arange(T * S)) * (hop / S) + hop / S / 2)
        voiced = fr.f0 > 0
        near = np.clip(np.round(np.interp(t_blk, t_frm, np.arange(T))).astype(int), 0, T - 1)
        # log-F0 at an unvoiced frame: its voiced neighbour's (previous first), so a block only
        # ever depends on the frames next to it (streaming needs that; whole-file gives the same)
        lf = np.log(np.where(voiced, fr.f0, 1.0))
        prev_v = np.concatenate([[False], voiced[:-1]])
        next_v = np.concatenate([voiced[1:], [False]])
        prev_lf = np.concatenate([[0.0], lf[:-1]])
        next_lf = np.concatenate([lf[1:], [0.0]])
        lf = np.where(voiced, lf, np.where(prev_v, prev_lf, np.where(next_v, next_lf, 0.0)))
        f0 = np.where(voiced[near], np.exp(np.interp(t_blk, t_frm, lf)), 0.0)
        cep = fr.cep.reshape(T * S, -1)
        cep_b = np.stack([np.interp(t_blk, t_sub, cep[:, m]) for m in range(cep.shape[1])], 1)
        bap_b = np.stack([np.interp(t_blk, t_frm, fr.bap[:, b]) for b in range(fr.bap.shape[1])], 1)
        # the cepstrum goes straight to the synthesizer's minimum-phase filters (two small matmuls)
        h = min_phase_from_cepstrum(cep_b, self.cfg.analysis.alpha, self.synth.n_fft, self.cfg.synth.gain_db / 20 * np.log(10))
        if band_limit is not None:  # narrowband input: nothing above its band limit (band.py)
            from .band import band_mask

            h = h * torch.from_numpy(band_mask(float(band_limit), self.cfg.sample_rate, self.synth.n_bins))
        return f0, h, bands_to_bins(bap_b, self.cfg.sample_rate, self.synth.n_bins)

    def render(self, fr: Frames, num_samples: int | None = None, band_limit: float | None = None) -> np.ndarray:
        """Frames -> waveform (whole utterance)."""
        J = len(fr) * self.hop // self.cfg.synth.block
        wav = self.synth.render_filters(*self.controls(fr, 0, 0, J, band_limit), state=SynthState(), final=False)
        return wav[:num_samples] if num_samples else wav

    def decode(self, codes: np.ndarray, num_samples: int | None = None, refine: bool | None = None,
               latency: str = "file", band_limit: float | None = None, mean=None) -> np.ndarray:
        return self.render(self.dequantize(codes, refine, latency, mean), num_samples, band_limit)
