"""Chunked encode and decode for the source-filter codec, equal to whole-file processing.

Two latency modes (``SourceFilterCodec.layout``), chosen when the stream is opened; whole-file
encoding takes the same ``latency`` and gives the same codes:

* ``"file"`` (the trained setting, best for files): the analysis works on fixed segments
  (``analysis.segment_seconds``) with ``analysis.context_seconds`` of audio either side, in
  whole-file mode too; a segment's codes are emitted once its right context has arrived.
  Encoder latency: one segment plus the context (1.0 + 0.1 s by default).
* ``"low"`` (method stft): every frame is its own segment, with ``low_latency_history_seconds``
  of audio before it and after it only what its longest analysis window reads (the envelope
  window at f0_min, YIN one grid step past the frame's last subframe), at most
  ``low_latency_lookahead_ms``; voicing decisions see only that window (``fast.yin``,
  ``open_edges``). Encoder latency: one frame plus that look-ahead. The decoder runs the model's low-latency refiner (``refine.py``, ``lookahead`` >= 0:
  at most one frame ahead) where it ships one, else none (the file mode's looks 8 frames ahead).

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
    """``latency``: "file" or "low" (see the module docstring). ``band_limit`` (Hz) and ``mean``
    (the side mean of a normalized model) are the per-utterance facts whole-file encoding finds in
    the whole file: a stream cannot see them in advance, so it takes them as given (None: full
    band, and the model's global mean), for encoding and decoding."""

    def __init__(self, codec: SourceFilterCodec, stages: int | None = None, latency: str = "file",
                 band_limit: float | None = None, mean=None):
        self.codec, self.stages = codec, stages or codec.cfg.quant.num_stages
        self.latency = latency
        self.band_limit, self.mean = band_limit, mean
        self.K = 1 + self.stages
        # encoder
        self._S, self._before, self._after = codec.layout(latency)
        self._audio = np.zeros(self._before, np.float64)  # from absolute sample -before
        self._audio_start = -self._before
        self._received = 0
        self._segments = 0
        # decoder: file mode the model's refiner, low mode its low-latency refiner (if any)
        self.refiner = codec.refiner_for(latency)
        self.refine = self.refiner is not None
        self._codes = np.zeros((self.K, 0), np.int64)
        self._frames: Frames | None = None  # finalized frames (all, as arrays)
        self._blocks = 0
        self._state = SynthState()

    @property
    def latency_seconds(self) -> dict:
        """Algorithmic latency in seconds: ``encoder`` = one segment plus the audio after it that
        its analysis reads (the codes of a segment's first sample come that long after it);
        ``decoder`` = the refiner's lookahead (when it runs) plus half a frame of interpolation."""
        c, sr, fr = self.codec, self.codec.cfg.sample_rate, self.codec.cfg.frame_rate
        enc = (self._S * c.hop + self._after) / sr
        dec = ((self.refiner.lookahead if self.refine else 0) + 0.5) / fr
        return {"encoder": enc, "decoder": dec, "total": enc + dec}

    # ---- encoder ----------------------------------------------------------------------------
    def _segment(self, k: int) -> np.ndarray:
        c = self.codec
        span = self._S * c.hop
        size = span + self._before + self._after
        a = k * span - self._before - self._audio_start
        seg = self._audio[a : a + size]
        return np.pad(seg, (0, size - len(seg)))

    def encode(self, wav: np.ndarray) -> np.ndarray:
        """Audio samples (any count) -> codes ``(K, n)`` of the segments completed so far."""
        c = self.codec
        self._audio = np.concatenate([self._audio, np.asarray(wav, np.float64)])
        self._received += len(wav)
        span = self._S * c.hop
        out = []
        while self._received >= (self._segments + 1) * span + self._after:
            out.append(c.quantize(c.analyze_segment(self._segment(self._segments), self.latency), self.stages, None,
                                  self.band_limit, self.mean))
            self._segments += 1
            # keep only what the next segment needs (its left context)
            keep_from = self._segments * span - self._before
            drop = keep_from - self._audio_start
            self._audio, self._audio_start = self._audio[drop:], keep_from
        return np.concatenate(out, 1) if out else np.zeros((self.K, 0), np.int64)

    def encode_flush(self) -> np.ndarray:
        """Codes of the rest (zero-padded as whole-file encoding pads the end)."""
        c = self.codec
        total = max(1, -(-self._received // c.hop))
        out = []
        while self._segments * self._S < total:
            codes = c.quantize(c.analyze_segment(self._segment(self._segments), self.latency), self.stages, None,
                               self.band_limit, self.mean)
            out.append(codes[:, : total - self._segments * self._S])
            self._segments += 1
        return np.concatenate(out, 1) if out else np.zeros((self.K, 0), np.int64)

    # ---- decoder ----------------------------------------------------------------------------
    def decode(self, codes: np.ndarray, final: bool = False) -> np.ndarray:
        """Codes ``(K, n)`` -> the waveform samples that are final so far."""
        c = self.codec
        self._codes = np.concatenate([self._codes, np.asarray(codes, np.int64)], 1)
        N = self._codes.shape[1]
        R = self.refiner.lookahead if self.refine else 0
        done = 0 if self._frames is None else len(self._frames)
        ready = N if final else max(done, N - R)
        if ready > done:
            a = max(0, done - self.refiner.history - R) if self.refine else done
            fr = c.dequantize(self._codes[:, a : min(N, ready + R)], refine=self.refine, latency=self.latency, mean=self.mean)
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
