"""The tokenizers a server offers: loaded once, by registered name only, and shared by every
request. A request names one of these; nothing a request says is ever passed to `speechtok.load`."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path

import numpy as np

from ..errors import SpeechtokError
from ..tokenizers import Tokenizer, load

log = logging.getLogger("speechtok.serve")


def check_registered_name(name: str) -> str:
    """Refuse anything that `speechtok.load` would read as a path: the service serves the
    registry's tokenizers, never a folder or file."""
    if not name or "/" in name or "\\" in name or name.startswith((".", "~")) or Path(name).exists():
        raise SpeechtokError(
            f"{name!r}: speechtok serve takes registered tokenizer names only (see `speechtok list`), "
            f"not paths; to serve a trained run, register it (speechtok.register) in a plug-in"
        )
    return name


def load_tokenizers(names: list[str], warm_up: bool = True) -> dict[str, Tokenizer]:
    """name -> tokenizer, keyed by the tokenizer's own name (the one its tokens carry).

    Shipped codec bitrates share one model in memory (speechtok.codec.pretrained caches it).
    ``warm_up`` encodes and decodes 0.25 s once each, so lazy set-up happens here, in one thread,
    and not in the first requests."""
    out: dict[str, Tokenizer] = {}
    for name in names:
        tok = load(check_registered_name(name))
        if tok.name in out:
            continue
        if warm_up:
            noise = np.random.default_rng(0).normal(0, 0.05, tok.sample_rate // 4).astype(np.float32)
            tokens = tok.encode(noise, tok.sample_rate)
            if tok.can_decode:
                tok.decode(tokens)
        out[tok.name] = tok
        log.info("loaded %r", tok)
    if not out:
        raise SpeechtokError("no tokenizers to serve")
    return out


def call_guard(tok: Tokenizer):
    """What a worker holds while it calls ``tok``: nothing for a tokenizer that says it is
    thread-safe (``Tokenizer.thread_safe``), else a lock, so that a tokenizer we know nothing
    about (another project's model) is called one request at a time."""
    return contextlib.nullcontext() if tok.thread_safe else threading.Lock()


def describe(tok: Tokenizer) -> dict:
    """What GET /v1/tokenizers says about one tokenizer (``latency_ms``: the algorithmic latency
    of its stream, for tokenizers that state one)."""
    latency = tok.latency_seconds if tok.can_stream else None
    extra = {"latency_ms": round(1000 * latency["total"], 1)} if isinstance(latency, dict) else {}
    return {
        "name": tok.name,
        "version": tok.version,
        "sample_rate": tok.sample_rate,
        "frame_rate": tok.frame_rate,
        "codebooks": tok.num_codebooks,
        "codebook_sizes": list(tok.codebook_sizes),
        "kbps": round(tok.bitrate / 1000, 4),
        "tokens_per_second": tok.tokens_per_second,
        "can_decode": tok.can_decode,
        "streaming": tok.can_stream,
        **extra,
    }
