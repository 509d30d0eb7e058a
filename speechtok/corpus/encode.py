"""Reading inputs and encoding one shard in length-sorted batches; shared by every backend.

Reading (decode + resample to the tokenizer's rate) is a plain function of a path so it can run
in worker processes; encoding happens where the tokenizer lives. Batches are length-sorted so a
tokenizer with a real batched ``_encode_batch`` pads little; ``Tokenizer.encode_batch`` gives the
same codes as one-by-one encoding (a padded neural encoder: up to rare float near-ties between two
codewords, see there), so batching does not change a row's content.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ..audio import load_audio
from ..errors import SpeechtokError


@dataclass(frozen=True)
class Batching:
    """A batch holds at most ``size`` utterances (0: no limit) and at most ``seconds`` of padded
    audio (longest in the batch × count); a single longer utterance still forms its own batch."""

    seconds: float = 60.0
    size: int = 0


@dataclass
class Decoded:
    """One read input: ``wav`` float32 ``(samples,)`` at the tokenizer's rate, or ``error``."""

    wav: np.ndarray | None
    sample_rate: int  # of the source file
    num_samples: int  # of the source file
    error: str | None = None
    tokens: object = None  # Tokens, when the reader encoded it too (see read_and_encode)


def read_input(job: tuple[str, int]) -> Decoded:
    """``(path, target_sr)`` -> Decoded. Never raises for bad audio: the reason is returned."""
    path, target_sr = job
    try:
        import soundfile as sf

        wav, _ = load_audio(path, target_sr=target_sr)  # its AudioError names the file and reason
        info = sf.info(path)
        return Decoded(wav, int(info.samplerate), int(info.frames))
    except SpeechtokError as e:
        return Decoded(None, 0, 0, str(e))
    except Exception as e:  # a decoder crash on a corrupt file must not stop the job
        return Decoded(None, 0, 0, f"{path}: {type(e).__name__}: {e}")


_TOKENIZERS: dict = {}  # per process: a tokenizer is loaded once, not per file


def preload_tokenizer(spec: str, tok) -> None:
    """Make ``tok`` the cached tokenizer for ``spec`` in this process (and so in workers forked
    from it)."""
    _TOKENIZERS[spec] = tok


def cached_tokenizer(spec: str):
    if spec not in _TOKENIZERS:
        import speechtok

        _TOKENIZERS[spec] = speechtok.load(spec)
    return _TOKENIZERS[spec]


def read_and_encode(job: tuple[str, str]) -> Decoded:
    """``(path, tokenizer spec)`` -> Decoded with ``tokens`` set (and no waveform): for
    tokenizers without a batched encoder, whose encoding is best spread over processes too.
    A tokenizer that fails to load raises (that is no fault of the file)."""
    path, spec = job
    tok = cached_tokenizer(spec)
    d = read_input((path, tok.sample_rate))
    if d.error is None:
        try:
            d.tokens = tok.encode(d.wav, tok.sample_rate)
        except Exception as e:
            d.error = f"{path}: encoding failed: {type(e).__name__}: {e}"
        d.wav = None  # only the codes travel back
    return d


def has_batched_encoder(tok) -> bool:
    """True when the tokenizer overrides ``_encode_batch`` (e.g. a padded neural encoder)."""
    from ..tokenizers.base import Tokenizer

    return type(tok)._encode_batch is not Tokenizer._encode_batch


def length_order(utts: list) -> list:
    """Utterances shortest first, by manifest duration when every one has it, else file size
    (a cheap stand-in for length). Only the batching depends on this order, never the rows."""
    if all(u.duration is not None for u in utts):
        return sorted(utts, key=lambda u: (u.duration, u.id))

    def size(u):
        try:
            return Path(u.path).stat().st_size
        except OSError:
            return -1

    return sorted(utts, key=lambda u: (size(u), u.id))


def encode_shard(
    tok,
    utts: list,
    decoded: Iterable[Decoded],
    batching: Batching,
    on_read: Callable[[float], None] = lambda seconds: None,
) -> tuple[list, list[dict]]:
    """Encode ``utts`` (in length order) given their ``decoded`` audio, in the same order.

    Returns ``(encoded, errors)``: ``encoded`` is ``[(utterance, Tokens)]`` with int32 codes,
    ``errors`` is ``[{"id", "source", "stage", "reason"}]``. ``on_read(seconds)`` is called per
    input read (for progress bars).
    """
    encoded: list = []
    errors: list[dict] = []
    batch: list = []  # [(utt, Decoded)]
    longest = 0  # samples of the longest waveform in ``batch``

    def flush():
        if batch:
            encoded_batch, failed = _encode_batch(tok, batch)
            encoded.extend(encoded_batch)
            errors.extend(failed)
            batch.clear()

    sr = tok.sample_rate
    for utt, d in zip(utts, decoded, strict=True):
        if d.error is not None:
            errors.append({"id": utt.id, "source": utt.path, "stage": "read", "reason": d.error})
            continue
        on_read(d.num_samples / d.sample_rate)
        if d.tokens is not None:  # encoded by the reader already
            encoded.append(_keep(utt, d, d.tokens))
            continue
        full = batching.size and len(batch) >= batching.size
        if batch and (full or max(longest, len(d.wav)) * (len(batch) + 1) > batching.seconds * sr):
            flush()
            longest = 0
        batch.append((utt, d))
        longest = max(longest, len(d.wav))
    flush()
    return encoded, errors


def _encode_batch(tok, batch: list) -> tuple[list, list[dict]]:
    """Encode a batch; if it fails, encode one by one so one bad input only loses itself."""
    try:
        tokens = tok.encode_batch([d.wav for _, d in batch], tok.sample_rate)
        return [_keep(u, d, t) for (u, d), t in zip(batch, tokens)], []
    except Exception:
        if len(batch) == 1:
            u, d = batch[0]
            try:
                return [_keep(u, d, tok.encode(d.wav, tok.sample_rate))], []
            except Exception as e:
                return [], [{"id": u.id, "source": u.path, "stage": "encode", "reason": f"{type(e).__name__}: {e}"}]
        out, failed = [], []
        for item in batch:
            o, f = _encode_batch(tok, [item])
            out += o
            failed += f
        return out, failed


def _keep(utt, d: Decoded, tokens):
    """Tokens as ``tok.encode(source audio, source rate)`` gives them (the reading resampled
    already, so only the source length and rate need restoring), with compact int32 codes."""
    tokens = dataclasses.replace(tokens, num_samples=d.num_samples, sample_rate=d.sample_rate)
    tokens.codes = np.asarray(tokens.codes, dtype=np.int32)
    return utt, tokens


def read_inline(utts: list, target_sr: int) -> Iterator[Decoded]:
    """Read inputs one after another in this process (no workers)."""
    return (read_input((u.path, target_sr)) for u in utts)
