"""Encode/decode speed: real-time factor (seconds of compute per second of audio; < 1 is faster
than real time) on this machine, with the torch thread count it ran with."""

from __future__ import annotations

import time

import numpy as np


def measure_speed(tok, wav: np.ndarray, sample_rate: int, repeats: int = 3) -> dict:
    """Median RTF over ``repeats`` runs after one untimed warm-up. ``wav``: ``(samples,)``."""
    import torch

    seconds = len(wav) / sample_rate
    tokens = tok.encode(wav, sample_rate)  # warm-up (lazy loading, kernel selection)
    if tok.can_decode:
        tok.decode(tokens)
    enc, dec = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tokens = tok.encode(wav, sample_rate)
        enc.append(time.perf_counter() - t0)
        if tok.can_decode:
            t0 = time.perf_counter()
            tok.decode(tokens)
            dec.append(time.perf_counter() - t0)
    return {
        "tokenizer": tok.name,
        "tokenizer_version": tok.bench_version,
        "audio_seconds": seconds,
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "encode_rtf": float(np.median(enc)) / seconds,
        "decode_rtf": float(np.median(dec)) / seconds if dec else None,
        "kbps": tokens.bitrate / 1000,
        "tokens_per_s": tokens.tokens_per_second,
    }
