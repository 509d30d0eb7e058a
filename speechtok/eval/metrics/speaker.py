"""Speaker similarity: cosine similarity of Resemblyzer d-vectors (GE2E, 256-d, shipped with the
``resemblyzer`` package) of the original and the decoded audio. 1.0 for identical audio.

Resemblyzer's ``preprocess_wav`` normalises loudness and trims silences (webrtcvad) first.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._deps import require


@lru_cache(maxsize=1)
def _encoder():
    """The voice encoder, loaded once per process (on CPU)."""
    import warnings

    with warnings.catch_warnings():  # webrtcvad imports the deprecated pkg_resources
        warnings.simplefilter("ignore")
        resemblyzer = require("resemblyzer", "resemblyzer")
    return resemblyzer, resemblyzer.VoiceEncoder("cpu", verbose=False)


def speaker_embedding(wav: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
    """``(samples,)`` -> unit-norm ``(256,)`` embedding."""
    resemblyzer, encoder = _encoder()
    pre = resemblyzer.preprocess_wav(np.asarray(wav, dtype=np.float32), source_sr=sample_rate)
    if len(pre) == 0:
        raise ValueError("no speech left after Resemblyzer's voice-activity trimming")
    return encoder.embed_utterance(pre)


def speaker_similarity(ref_embedding: np.ndarray, deg: np.ndarray, sample_rate: int = 16000) -> float:
    e = speaker_embedding(deg, sample_rate)
    return float(np.dot(ref_embedding, e) / (np.linalg.norm(ref_embedding) * np.linalg.norm(e)))
