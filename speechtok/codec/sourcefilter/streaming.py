"""Chunked encode and decode for the source-filter codec, equal to whole-file processing.

Encoder: the analysis works on fixed segments (``analysis.segment_seconds``) with
``analysis.context_seconds`` of audio either side, in whole-file mode too; so a segment's codes
are emitted once its right context has arrived. Algorithmic latency of the encoder: one segment
plus the context (1.0 + 0.1 s by default).

Decoder: a frame is final once the refiner's lookahead (0 without a refiner) has arrived; the
synthesizer then renders up to that frame's centre (half a frame of lookahead for the
interpolation) and keeps its F0 phase, noise position and overlap in a state, so the samples are
the whole-file samples.
"""

from __future__ import annotations

import numpy as np

from .analysis import Frames
from .model import SourceFilterCodec
from .synthesis import SynthState


class SourceFilterStream:
    """``band_limit`` (Hz) and ``mean`` (the side mean of a normalized model) are the per-utterance
    facts whole-file encoding finds in the whole file: a stream cannot see them in advance, so it
    takes them as given (None: full band, and the model's global mean), for encoding and decoding."""

    def __init__(self, codec: SourceFilterCodec, stages: int | None = None, band_limit: float | None = None, mean=None):
        self.codec, self.stages = codec, stages or codec.cfg.quant.num_stages
        self.band_limit, self.mean = band_limit, mean
        self.K = 1 + self.stages
        # encoder
        self._audio = np.zeros(codec.context_samples, np.float64)  # from absolute sample -C
        self._audio_start = -codec.context_samples
        self._received = 0
        self._segments = 0
        # decoder
        self._codes = np.zeros((self.K, 0), np.int64)
        self._frames: Frames | None = None  # finalized frames (all, as arrays)
        self._blocks = 0
        self._state = SynthState()

    @property
    def latency_seconds(self) -> dict:
        c = self.codec
        seg = c.segment_frames * c.hop / c.cfg.sample_rate
        ctx = c.context_samples / c.cfg.sample_rate
        look = (c.refiner.lookahead if c.cfg.refiner.enabled else 0) / c.cfg.frame_rate + 0.5 / c.cfg.frame_rate
        return {"encoder": seg + ctx, "decoder": look, "total": seg + ctx + look}

    # ---- encoder ----------------------------------------------------------------------------
    def _segment(self, k: int) -> np.ndarray:
        c = self.codec
        span = c.segment_frames * c.hop
        a = k * span - c.context_samples - self._audio_start
        seg = self._audio[a : a + span + 2 * c.context_samples]
        return np.pad(seg, (0, span + 2 * c.context_samples - len(seg)))

    def encode(self, wav: np.ndarray) -> np.ndarray:
        """Audio samples (any count) -> codes ``(K, n)`` of the segments completed so far."""
        c = self.codec
        self._audio = np.concatenate([self._audio, np.asarray(wav, np.float64)])
        self._received += len(wav)
        span = c.segment_frames * c.hop
        out = []
        while self._received >= (self._segments + 1) * span + c.context_samples:
            out.append(c.quantize(c.analyze_segment(self._segment(self._segments)), self.stages, None, self.band_limit, self.mean))
            self._segments += 1
            # keep only what the next segment needs (its left context)
            keep_from = self._segments * span - c.context_samples
            drop = keep_from - self._audio_start
            self._audio, self._audio_start = self._audio[drop:], keep_from
        return np.concatenate(out, 1) if out else np.zeros((self.K, 0), np.int64)

    def encode_flush(self) -> np.ndarray:
        """Codes of the rest (zero-padded as whole-file encoding pads the end)."""
        c = self.codec
        total = max(1, -(-self._received // c.hop))
        out = []
        while self._segments * c.segment_frames < total:
            codes = c.quantize(c.analyze_segment(self._segment(self._segments)), self.stages, None, self.band_limit, self.mean)
            out.append(codes[:, : total - self._segments * c.segment_frames])
            self._segments += 1
        return np.concatenate(out, 1) if out else np.zeros((self.K, 0), np.int64)

    # ---- decoder ----------------------------------------------------------------------------
    def decode(self, codes: np.ndarray, final: bool = False) -> np.ndarray:
        """Codes ``(K, n)`` -> the waveform samples that are final so far."""
        c = self.codec
        self._codes = np.concatenate([self._codes, np.asarray(codes, np.int64)], 1)
        N = self._codes.shape[1]
        R = c.refiner.lookahead if c.cfg.refiner.enabled else 0
        done = 0 if self._frames is None else len(self._frames)
        ready = N if final else max(done, N - R)
        if ready > done:
            a = max(0, done - 2 * R)
            fr = c.dequantize(self._codes[:, a : min(N, ready + R)], mean=self.mean)
            new = Frames(*(getattr(fr, k)[done - a : ready - a] for k in ("f0", "cep", "bap")))
            self._frames = new if self._frames is None else Frames(
                *(np.concatenate([getattr(self._frames, k), getattr(new, k)]) for k in ("f0", "cep", "bap")))
        if self._frames is None:
            return np.zeros(0, np.float32)
        nf = len(self._frames)
        B, hop = c.cfg.synth.block, c.hop
        if final:
            j1 = nf * hop // B
        else:  # blocks whose centre lies before the last final frame's centre
            j1 = int(np.ceil(((nf - 1) * hop + hop / 2 - B / 2) / B))
        if j1 <= self._blocks:
            return np.zeros(0, np.float32)
        first = max(0, int((self._blocks * B + B / 2 - hop / 2) // hop) - 2)
        window = Frames(*(getattr(self._frames, k)[first:] for k in ("f0", "cep", "bap")))
        wav = c.synth.render_filters(*c.controls(window, first, self._blocks, j1, self.band_limit), state=self._state, final=False)
        self._blocks = j1
        return wav

    def decode_flush(self) -> np.ndarray:
        return self.decode(np.zeros((self.K, 0), np.int64), final=True)
