"""Acoustic BPE: merge frequent runs of token ids into supertokens, with Hugging Face `tokenizers`.

Each base id (a code of a single-stream layout) becomes one Unicode character (CJK ideographs
from U+4E00: printable, never whitespace, never split by a normaliser), an utterance becomes one
string, and a byte-pair-encoding model is trained on those strings with no pre-tokenizer, so merges
may span any ids. Every base character is in the initial alphabet, hence every sequence encodes
(no unknown token) and ``decode(encode(x)) == x`` exactly; ``decode`` checks this on its way.

Saved as one JSON file (the `tokenizers` model plus ``base_vocab``), nothing pickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np

FIRST_CHAR = 0x4E00
MAX_BASE = 0x9FFF - FIRST_CHAR + 1  # 20,992 ids fit in the CJK Unified Ideographs block


def _chars(ids: np.ndarray) -> str:
    return "".join(map(chr, (np.asarray(ids, dtype=np.int64) + FIRST_CHAR).tolist()))


class AcousticBPE:
    def __init__(self, tokenizer, base_vocab: int):
        self.tokenizer = tokenizer
        self.base_vocab = int(base_vocab)
        vocab = tokenizer.get_vocab()
        self.vocab_size = len(vocab)
        # supertoken id -> its base ids, for a fast exact decode
        self._pieces = [np.zeros(0, np.int64)] * self.vocab_size
        for piece, i in vocab.items():
            self._pieces[i] = np.array([ord(c) - FIRST_CHAR for c in piece], dtype=np.int64)
        self._lengths = np.array([len(p) for p in self._pieces], dtype=np.int64)

    @classmethod
    def train(cls, sequences: Iterable[np.ndarray], base_vocab: int, vocab_size: int) -> "AcousticBPE":
        """Learn merges on 1-D id sequences (ids in ``[0, base_vocab)``) up to ``vocab_size`` tokens."""
        from tokenizers import Tokenizer, models, trainers

        if base_vocab > MAX_BASE:
            raise ValueError(f"acoustic BPE supports at most {MAX_BASE} base ids, got {base_vocab}")
        if vocab_size < base_vocab:
            raise ValueError(f"bpe vocab ({vocab_size}) must be at least the base vocabulary ({base_vocab})")
        alphabet = [chr(FIRST_CHAR + i) for i in range(base_vocab)]
        tok = Tokenizer(models.BPE())
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False, special_tokens=[])
        tok.train_from_iterator((_chars(s) for s in sequences), trainer=trainer)
        return cls(tok, base_vocab)

    @property
    def piece_lengths(self) -> np.ndarray:
        """Base ids per supertoken, ``(vocab_size,)``."""
        return self._lengths

    @property
    def num_merges(self) -> int:
        return self.vocab_size - self.base_vocab

    def encode(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.base_vocab):
            raise ValueError(f"ids must lie in [0, {self.base_vocab})")
        out = np.array(self.tokenizer.encode(_chars(ids)).ids, dtype=np.int64)
        if self._lengths[out].sum() != len(ids):  # a character lost would mean a wrong model file
            raise ValueError("acoustic BPE lost ids while encoding (is the model file corrupt?)")
        return out

    def decode(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        if not ids.size:
            return np.zeros(0, np.int64)
        if ids.min() < 0 or ids.max() >= self.vocab_size:
            raise ValueError(f"BPE ids must lie in [0, {self.vocab_size})")
        return np.concatenate([self._pieces[i] for i in ids.tolist()])

    def mean_piece_length(self, ids: np.ndarray) -> float:
        """Base ids per supertoken in an encoded sequence."""
        return float(self._lengths[np.asarray(ids)].mean())

    # ---- files ------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({"format": "speechtok-acoustic-bpe", "version": 1, "base_vocab": self.base_vocab,
                           "first_char": FIRST_CHAR, "tokenizer": json.loads(self.tokenizer.to_str())})

    def save(self, path: str | Path) -> None:
        from ..fsutil import write_atomic

        text = self.to_json()
        write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> "AcousticBPE":
        from tokenizers import Tokenizer

        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
            if data.get("format") != "speechtok-acoustic-bpe" or data.get("first_char") != FIRST_CHAR:
                raise ValueError("not a speechtok acoustic BPE file")
            return cls(Tokenizer.from_str(json.dumps(data["tokenizer"])), data["base_vocab"])
        except (OSError, ValueError, KeyError, Exception) as e:  # tokenizers raises its own Exception type
            raise ValueError(f"{p}: cannot load acoustic BPE ({e})") from None
