"""An example tokenizer family for speechtok, shipped as its own package.

``toy@N`` quantizes the waveform at 8 kHz to N uniform levels: one codebook of N values, one
frame per sample. It is a toy (use ``mulaw`` for real 8-bit audio); it shows everything a family
needs: a `speechtok.Tokenizer` subclass and three module functions, found by speechtok through
the ``speechtok.tokenizers`` entry point that ``pyproject.toml`` declares.
"""

from __future__ import annotations

import re

import numpy as np

from speechtok import Tokenizer

LEVELS = (16, 64, 256)  # the names `speechtok list` shows; resolve() takes any 2..65536
_NAME = re.compile(r"^toy@(?P<levels>\d+)$")


class ToyTokenizer(Tokenizer):
    version = "0.1.0"
    sample_rate = 8000
    frame_rate = 8000.0
    thread_safe = True  # pure numpy, no state

    def __init__(self, levels: int):
        if not 2 <= levels <= 65536:
            raise ValueError(f"toy@{levels}: levels must be in 2..65536")
        self.levels = levels
        self.name = f"toy@{levels}"
        self.codebook_sizes = (levels,)

    def _encode(self, wav: np.ndarray) -> np.ndarray:
        """``(samples,)`` float32 in [-1, 1] -> codes ``[1, samples]``."""
        x = (np.clip(wav, -1.0, 1.0) + 1.0) / 2.0 * (self.levels - 1)
        return np.round(x).astype(np.int64)[None, :]

    def _decode(self, codes: np.ndarray, num_samples: int, tokens) -> np.ndarray:
        return (codes[0].astype(np.float32) / (self.levels - 1) * 2.0 - 1.0).astype(np.float32)


def resolve(name: str) -> ToyTokenizer | None:
    """The tokenizer for ``name``, or None when the name is not this family's."""
    m = _NAME.match(name)
    return ToyTokenizer(int(m["levels"])) if m else None


def names() -> list[str]:
    return [f"toy@{n}" for n in LEVELS]


def describe(name: str) -> dict | None:
    """Facts for `speechtok list` without building a tokenizer (optional)."""
    m = _NAME.match(name)
    return {"sample_rate": 8000, "frame_rate": 8000.0, "codebook_sizes": [int(m["levels"])]} if m else None
