"""The one interface everything in speechtok meets at."""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

from ..audio import num_samples, prepare
from ..errors import AudioError, SpeechtokError, SpeechtokWarning, StreamingUnsupported, TokensFileError, UsageError
from ..tokens import Tokens


#: codes of more than twice this many seconds are decoded in chunks of it, through the
#: tokenizer's streaming session where it has one (bounded memory for hour-long files)
DECODE_CHUNK_SECONDS = 30.0


def prefix_kbps(frame_rate: float, codebook_sizes: Sequence[int], first: int = 1) -> list[float]:
    """Nominal kbps of the first ``k`` codebooks, for ``k = first .. len(codebook_sizes)``
    (rounded to 4 decimals: the rates a model's names offer, e.g. ``speechtok-fast@1.45kbps``).
    The one place where bitrates become numbers of codebooks and back."""
    return [round(frame_rate * sum(math.log2(s) for s in codebook_sizes[:k]) / 1000, 4)
            for k in range(first, len(codebook_sizes) + 1)]


def codebooks_for_kbps(frame_rate: float, codebook_sizes: Sequence[int], kbps: float, name: str, first: int = 1) -> int:
    """How many leading codebooks give ``kbps`` (one of ``prefix_kbps``), or a SpeechtokError
    naming the rates ``name`` offers."""
    rates = prefix_kbps(frame_rate, codebook_sizes, first)
    best = min(range(len(rates)), key=lambda i: abs(rates[i] - kbps), default=None)
    if best is None or abs(rates[best] - kbps) >= 0.03:
        raise SpeechtokError(f"{name}: this model offers {', '.join(f'{r:g}' for r in rates)} kbps")
    return first + best


class Tokenizer(ABC):
    """Speech in, integer codes ``[codebook, frame]`` out, and back.

    Subclasses set ``name``, ``version``, ``sample_rate``, ``frame_rate``, ``codebook_sizes``
    and implement ``_encode`` / ``_decode`` on mono float32 audio at ``sample_rate``. The base
    class does the conversions (any rate, any channels, int or float) and the bookkeeping.

    A tokenizer with trained weights also sets ``model_id`` (e.g. ``fsutil.file_digest`` of its
    weights file): every Tokens it makes carries it, and ``decode`` refuses tokens whose model id
    differs, so codes are never decoded by a model that did not make them.
    """

    name: str
    version: str
    sample_rate: int
    frame_rate: float
    codebook_sizes: tuple[int, ...]
    #: False for encode-only tokenizers (e.g. S3Tokenizer): decode raises, benchmarks skip it.
    can_decode: bool = True
    #: the exact trained model (a short hash of its weights); None for tokenizers without weights
    model_id: str | None = None
    #: the exact decoder, where it can be replaced without the codes changing (a unit decoder
    #: trained after its tokenizer); None where ``version`` already pins the decoded audio
    decoder_id: str | None = None

    @property
    def bench_version(self) -> str:
        """What the benchmark keys decoded audio and its rows on: ``version``, plus the decoder's
        identity where it has one of its own (so a retrained decoder is never scored from the
        previous decoder's cached audio). Token caches (``tokenize``, the LM bench) keep ``version``."""
        return self.version if not self.decoder_id else f"{self.version}+dec-{self.decoder_id}"
    #: True when one instance may encode/decode from several threads at once (``speechtok serve``
    #: calls it without a lock); a tokenizer that does not say so is called one request at a time
    thread_safe: bool = False
    #: True for a batched encoder that runs on the CPU anyway: ``speechtok tokenize`` runs one
    #: copy per worker process rather than batching in the main process
    batch_in_workers: bool = False

    # ---- facts -------------------------------------------------------------------------
    @property
    def num_codebooks(self) -> int:
        return len(self.codebook_sizes)

    @property
    def bitrate(self) -> float:
        """Nominal bits per second: frame rate × Σ log2(codebook size)."""
        return self.frame_rate * sum(math.log2(s) for s in self.codebook_sizes)

    @property
    def tokens_per_second(self) -> float:
        return self.frame_rate * self.num_codebooks

    @property
    def streams(self) -> list[str] | None:
        """What each codebook carries, where the family says (the source-filter codec:
        ``["pitch", "envelope", ...]``); None: it does not say (the codebooks are alike)."""
        return None

    # ---- capabilities --------------------------------------------------------------------
    @property
    def can_stream(self) -> bool:
        """Whether ``open_stream()`` gives a session (by default: whether the class defines
        ``open_stream``; a class that can only sometimes stream overrides this)."""
        return type(self).open_stream is not Tokenizer.open_stream

    def open_stream(self):
        """A chunked encoder/decoder whose output equals whole-file processing: a session with
        ``encode(wav)``, ``encode_flush()``, ``decode(codes)``, ``decode_flush()`` on numpy arrays
        (``speechtok.serve.streaming.StreamSession``). Raises StreamingUnsupported saying why not."""
        raise StreamingUnsupported(
            f"{self.name} cannot stream: streaming needs a causal codec (model.causal: true), a "
            f"source-filter model without a phone teacher, or a frame-by-frame codec such as opus"
        )

    @property
    def latency_seconds(self) -> dict | None:
        """Algorithmic latency of this tokenizer's streams (``encoder``, ``decoder``, ``total``;
        seconds) where it states one, else None."""
        return None

    @property
    def all_codebook_sizes(self) -> tuple[int, ...]:
        """The sizes of every codebook the model has (``codebook_sizes``: those this tokenizer
        uses, a prefix of these)."""
        return tuple(self.codebook_sizes)

    #: the fewest codebooks a lower bitrate may use (a source-filter model: pitch + one stage);
    #: None: the tokenizer has only its own bitrate
    min_codebooks: int | None = None

    @property
    def bitrates(self) -> list[float]:
        """The kbps this tokenizer's model offers, lowest first (``with_bitrate`` takes each)."""
        if self.min_codebooks is None:
            return [round(self.bitrate / 1000, 4)]
        return prefix_kbps(self.frame_rate, self.all_codebook_sizes, self.min_codebooks)

    def with_codebooks(self, k: int) -> "Tokenizer":
        """This tokenizer using its first ``k`` codebooks (a lower bitrate of the same model, or
        itself when ``k`` is what it uses); its name says the rate (``NAME@1.45kbps``)."""
        if k == self.num_codebooks:
            return self
        raise UsageError(f"{self.name} has one bitrate ({self.bitrate / 1000:g} kbps, {self.num_codebooks} codebooks)")

    def with_bitrate(self, kbps: float) -> "Tokenizer":
        """This tokenizer at another of its ``bitrates``; a SpeechtokError names those it offers."""
        if self.min_codebooks is None:
            if abs(kbps - self.bitrate / 1000) < 0.03:
                return self
            raise SpeechtokError(f"{self.name}: this tokenizer offers {self.bitrate / 1000:g} kbps")
        return self.with_codebooks(codebooks_for_kbps(self.frame_rate, self.all_codebook_sizes, kbps, self.name,
                                                      self.min_codebooks))

    def _rate_name(self, k: int) -> str:
        """The name of this tokenizer's model with its first ``k`` codebooks: ``BASE@RATEkbps``,
        or ``BASE`` alone for every codebook (as ``speechtok.load`` names them)."""
        base, at, rate = self.name.rpartition("@")
        base = base if at and rate.endswith("kbps") else self.name
        sizes = self.all_codebook_sizes
        return base if k == len(sizes) else f"{base}@{prefix_kbps(self.frame_rate, sizes[:k], k)[0]:g}kbps"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, sample_rate={self.sample_rate}, "
            f"frame_rate={self.frame_rate:g}, codebooks={self.num_codebooks}, "
            f"bitrate={self.bitrate / 1000:.3g} kbps)"
        )

    # ---- the interface -----------------------------------------------------------------
    def encode(self, audio, sample_rate: int) -> Tokens:
        """audio: array-like ``(samples,)`` or 2-D with channels, any dtype, any rate."""
        return self.encode_batch([audio], sample_rate)[0]

    def encode_batch(self, audios: Sequence, sample_rate: int | Sequence[int]) -> list[Tokens]:
        """Encode several waveforms; gives what encoding them one by one gives. A neural encoder
        that pads the batch (``CodecTokenizer``) keeps padding out of every item's codes, but its
        float sums run in a batch-size-dependent order, so a rare near-tie between two codewords
        (in practice of a residual codebook) may fall the other way; everything else is exact."""
        if sample_rate is None:
            raise AudioError("a sample rate is required: encode(audio, sample_rate)")
        if isinstance(audios, np.ndarray) or not isinstance(audios, Sequence):
            raise UsageError(f"encode_batch takes a list of waveforms, not {type(audios).__name__}")
        rates = [sample_rate] * len(audios) if np.isscalar(sample_rate) else list(sample_rate)
        if len(rates) != len(audios):
            raise ValueError(f"{len(audios)} waveforms but {len(rates)} sample rates")
        wavs = [prepare(a, sr, self.sample_rate) for a, sr in zip(audios, rates)]
        codes = self._encode_batch(wavs)
        # an encoder may return (codes, facts about this utterance) for Tokens.extra
        out = []
        for c, a, sr in zip(codes, audios, rates):
            c, extra = c if isinstance(c, tuple) else (c, None)
            out.append(self._make_tokens(c, num_samples=num_samples(a), sample_rate=int(sr), extra=extra))
        return out

    def decode(self, tokens: Tokens) -> tuple[np.ndarray, int]:
        """Tokens -> ``(waveform float32 (samples,), sample_rate)`` at ``self.sample_rate``,
        trimmed or padded to the duration of the audio the tokens were made from."""
        if not self.can_decode:
            raise NotImplementedError(f"{self.name} is encode-only: it has no decoder")
        if not isinstance(tokens, Tokens):
            raise UsageError(
                f"decode takes a Tokens value (from encode or Tokens.load), not {type(tokens).__name__}; "
                f"wrap raw codes [codebook, frame] in speechtok.Tokens(...)"
            )
        self.check_tokens(tokens)
        n = self.output_length(tokens)
        if tokens.num_frames == 0:  # nothing to decode (check_tokens saw that n is a few frames at most)
            return np.zeros(n, np.float32), self.sample_rate
        if tokens.num_frames > 2 * DECODE_CHUNK_SECONDS * self.frame_rate and self.can_stream:
            return self._decode_chunked(np.asarray(tokens.codes), n, tokens), self.sample_rate
        wav = np.asarray(self._decode(np.asarray(tokens.codes), n, tokens), dtype=np.float32)
        if len(wav) < n:
            wav = np.pad(wav, (0, n - len(wav)))
        return wav[:n], self.sample_rate

    def _decode_session(self, tokens: Tokens):
        """The streaming session that decodes ``tokens`` in chunks; a tokenizer whose tokens carry
        per-utterance facts in ``extra`` passes them on here."""
        return self.open_stream()

    def _decode_chunked(self, codes: np.ndarray, n: int, tokens: Tokens) -> np.ndarray:
        """A long file through the streaming session, ``DECODE_CHUNK_SECONDS`` of codes at a time:
        memory stays that of one chunk plus the output, and the audio equals whole-file decoding
        (the streaming session's own guarantee, tested for each codec that streams)."""
        out = np.zeros(n, np.float32)
        pos = 0
        step = max(1, int(DECODE_CHUNK_SECONDS * self.frame_rate))
        session = self._decode_session(tokens)
        try:
            parts = (session.decode(codes[:, i : i + step]) for i in range(0, codes.shape[1], step))
            for part in [*parts, session.decode_flush()]:
                take = min(len(part), n - pos)
                out[pos : pos + take] = part[:take]
                pos += take
        finally:
            close = getattr(session, "close", None)
            if callable(close):
                close()
        return out

    def decode_batch(self, tokens: Sequence[Tokens]) -> list[tuple[np.ndarray, int]]:
        return [self.decode(t) for t in tokens]

    # ---- helpers for subclasses ----------------------------------------------------------
    def output_length(self, tokens: Tokens) -> int:
        return int(round(tokens.num_samples * self.sample_rate / tokens.sample_rate))

    def check_tokens(self, tokens: Tokens) -> None:
        """Refuse tokens this tokenizer did not make (another name, codebooks or model id)."""
        if tokens.tokenizer != self.name:
            raise TokensFileError(
                f"these tokens were made by {tokens.tokenizer!r}, not {self.name!r}; "
                f"decode them with speechtok.load({tokens.tokenizer!r})"
            )
        if tokens.model_id is not None and tokens.model_id != self.model_id:
            # first: a different model is the reason, whatever else differs with it
            raise TokensFileError(
                f"these tokens were made by {tokens.tokenizer} model {tokens.model_id}, but this {self.name} is "
                f"model {self.model_id or '(none)'}; decode them with the model that made them "
                f"(speechtok decode -t RUN_FOLDER)"
            )
        if tuple(tokens.codebook_sizes) != tuple(self.codebook_sizes)[: tokens.num_codebooks] or (
            tokens.num_codebooks > self.num_codebooks
        ):
            raise TokensFileError(
                f"codebook sizes {tokens.codebook_sizes} do not match {self.name}'s {self.codebook_sizes}"
            )
        if abs(tokens.frame_rate - self.frame_rate) > 1e-6 * self.frame_rate:
            raise TokensFileError(f"frame rate {tokens.frame_rate:g} Hz does not match {self.name}'s {self.frame_rate:g} Hz")
        self._check_length(tokens)  # before anything of num_samples is allocated
        if tokens.model_id == self.model_id:
            return
        if tokens.model_id is None:  # a file from before model ids, or hand-made Tokens
            warnings.warn(
                f"these tokens carry no model id (made before speechtok "
                f"recorded one); cannot check that {self.name} model {self.model_id} made them",
                SpeechtokWarning, stacklevel=3,
            )
            return
        raise TokensFileError(
            f"these tokens were made by {tokens.tokenizer} model {tokens.model_id}, but this {self.name} is "
            f"model {self.model_id or '(none)'}; decode them with the model that made them "
            f"(speechtok decode -t RUN_FOLDER)"
        )

    def _check_length(self, tokens: Tokens) -> None:
        """Refuse a header whose ``num_samples`` the codes cannot stand for (``Tokens.check_length``
        at this tokenizer's frame rate; a variable-rate tokenizer checks its own way)."""
        tokens.check_length(self.frame_rate)

    def _make_tokens(self, codes: np.ndarray, num_samples: int, sample_rate: int, extra=None) -> Tokens:
        return Tokens(
            codes=np.asarray(codes, dtype=np.int64),
            tokenizer=self.name,
            tokenizer_version=self.version,
            frame_rate=self.frame_rate,
            codebook_sizes=self.codebook_sizes[: np.shape(codes)[0]],
            num_samples=int(num_samples),
            sample_rate=int(sample_rate),
            extra=extra or {},
            model_id=self.model_id,
        )

    def _encode_batch(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        """Mono float32 waveforms at ``sample_rate`` -> codes ``[codebook, frame]`` each (or
        ``(codes, extra)``: facts about that utterance that its Tokens carry in ``extra``).
        Override to batch; the default encodes one by one."""
        return [self._encode(w) for w in wavs]

    @abstractmethod
    def _encode(self, wav: np.ndarray) -> np.ndarray:
        """``(samples,)`` float32 at ``sample_rate`` -> int codes ``[codebook, frame]``."""

    @abstractmethod
    def _decode(self, codes: np.ndarray, num_samples: int, tokens: Tokens) -> np.ndarray:
        """int codes ``[codebook, frame]`` -> float32 ``(samples,)`` at ``sample_rate``
        (``num_samples`` long, or close: the base class trims or pads)."""
