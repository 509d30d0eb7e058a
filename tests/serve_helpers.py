"""What the serve tests share: a causal codec registered under a name (the repo's base-50hz
config with causal: true and random weights, its codebooks drawn at random rather than k-means
initialised so that codes vary: streaming is tested on a real-size model without a download),
and a tokenizer that blocks until told to go on (for the concurrency limits)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

import speechtok
from speechtok.codec.config import load_run_config
from speechtok.codec.model import Codec
from speechtok.codec.pretrained import CodecTokenizer
from speechtok.tokenizers.base import Tokenizer

CAUSAL = "test-causal-base-50hz"
BLOCKING = "test-blocking"
CONFIG = Path(__file__).resolve().parent.parent / "configs" / "base-50hz.yaml"


class BlockingTokenizer(Tokenizer):
    """A 1-codebook tokenizer whose encode waits on ``gate`` (set = run freely)."""

    name, version, sample_rate, frame_rate, codebook_sizes = BLOCKING, "1", 16000, 50.0, (2,)
    gate = threading.Event()
    started = threading.Event()

    def _encode(self, wav):
        self.started.set()
        self.gate.wait(30)
        return np.zeros((1, -(-len(wav) // 320)), dtype=np.int64)

    def _decode(self, codes, num_samples, tokens):
        return np.zeros(num_samples, dtype=np.float32)


_codec = {}


def _resolve(name: str):
    if name == CAUSAL:
        if "codec" not in _codec:
            torch.manual_seed(0)
            codec = Codec(load_run_config(CONFIG, ["model.causal=true", "model.quantizer.kmeans_init=false"]).model)
            _codec["codec"] = codec.eval()
        return CodecTokenizer(_codec["codec"], CAUSAL, "random-weights", num_codebooks=3)
    if name == BLOCKING:
        return BlockingTokenizer()
    return None


_registered = []


def register_test_tokenizers() -> None:
    if not _registered:
        speechtok.register(_resolve, lambda: [CAUSAL, BLOCKING])
        _registered.append(True)
