"""An interpolated Kneser-Ney n-gram LM over token ids: a seconds-cheap second opinion on how
predictable a tokenizer's sequences are. Counts are numpy arrays of packed n-gram keys (no
Python dict per n-gram), so a few million tokens fit in seconds.

Highest order: raw counts; lower orders: continuation counts (how many distinct ids precede an
n-gram); one absolute discount per order, ``D = n1 / (n1 + 2 n2)`` (Ney et al.); the order-0
distribution is uniform over the vocabulary. Each utterance is ``BOS^(N-1) ids… EOS``.
"""

from __future__ import annotations

import numpy as np


class KneserNeyLM:
    def __init__(self, vocab_size: int, order: int = 3):
        if order < 1:
            raise ValueError("order must be >= 1")
        self.content = int(vocab_size)
        self.bos, self.eos = self.content, self.content + 1
        self.V = self.content + 2
        if self.V ** order >= 2**62:
            raise ValueError(f"order {order} over {self.V} ids does not fit packed int64 keys")
        self.order = order
        self.levels: list[dict] = []

    def _grams(self, sequences, n: int) -> np.ndarray:
        """Packed keys of every n-gram of every padded sequence (one array)."""
        out = []
        for s in sequences:
            p = self._pad(s)
            if len(p) < n:
                continue
            key = np.zeros(len(p) - n + 1, dtype=np.int64)
            for i in range(n):
                key = key * self.V + p[i : len(p) - n + 1 + i]
            out.append(key)
        return np.concatenate(out) if out else np.zeros(0, np.int64)

    def _pad(self, s) -> np.ndarray:
        s = np.asarray(s, dtype=np.int64)
        if s.size and (s.min() < 0 or s.max() >= self.content):
            raise ValueError(f"ids must lie in [0, {self.content})")
        return np.concatenate([np.full(self.order - 1, self.bos, np.int64), s, [self.eos]])

    def fit(self, sequences) -> "KneserNeyLM":
        sequences = list(sequences)
        top_keys, top_counts = np.unique(self._grams(sequences, self.order), return_counts=True)
        levels = [None] * (self.order + 1)
        levels[self.order] = (top_keys, top_counts)
        for n in range(self.order - 1, 0, -1):
            higher = levels[n + 1][0]  # distinct (n+1)-grams; drop their first id
            keys, counts = np.unique(higher % (self.V**n), return_counts=True)
            levels[n] = (keys, counts)
        self.levels = [None]
        for n in range(1, self.order + 1):
            keys, counts = levels[n]
            ctx = keys // self.V
            ctx_keys, start = np.unique(ctx, return_index=True)
            totals = np.add.reduceat(counts, start) if len(counts) else np.zeros(0, np.int64)
            types = np.diff(np.append(start, len(keys)))
            n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
            d = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
            self.levels.append({"keys": keys, "counts": counts.astype(np.float64), "ctx": ctx_keys,
                                "totals": totals.astype(np.float64), "types": types.astype(np.float64), "d": min(max(d, 0.05), 0.95)})
        return self

    @staticmethod
    def _lookup(sorted_keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
        if not len(sorted_keys):
            return np.zeros(len(query))
        i = np.clip(np.searchsorted(sorted_keys, query), 0, len(sorted_keys) - 1)
        return np.where(sorted_keys[i] == query, values[i], 0.0)

    def bits(self, seq) -> np.ndarray:
        """−log2 p of each id of ``seq`` and of the final EOS (last entry), given what precedes it."""
        if not self.levels:
            raise RuntimeError("fit the model first")
        p = self._pad(seq)
        n_pos = len(p) - (self.order - 1)
        prob = np.full(n_pos, 1.0 / self.V)
        w = p[self.order - 1 :]
        for n in range(1, self.order + 1):
            lv = self.levels[n]
            ctx = np.zeros(n_pos, dtype=np.int64)
            for i in range(n - 1):  # the n-1 ids before each position
                ctx = ctx * self.V + p[self.order - n + i : self.order - n + i + n_pos]
            total = self._lookup(lv["ctx"], lv["totals"], ctx)
            types = self._lookup(lv["ctx"], lv["types"], ctx)
            c = self._lookup(lv["keys"], lv["counts"], ctx * self.V + w)
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            mixed = np.maximum(c - lv["d"], 0) / safe + lv["d"] * types / safe * prob
            prob = np.where(seen, mixed, prob)
        return -np.log2(prob)

    def next_probs(self, history) -> np.ndarray:
        """p(w | the last N-1 ids of ``history``) for every id w (content ids, then BOS, EOS): ``(V,)``."""
        if not self.levels:
            raise RuntimeError("fit the model first")
        h = np.concatenate([np.full(self.order - 1, self.bos, np.int64), np.asarray(history, dtype=np.int64)])
        w = np.arange(self.V, dtype=np.int64)
        prob = np.full(self.V, 1.0 / self.V)
        for n in range(1, self.order + 1):
            lv = self.levels[n]
            ctx = 0
            for x in h[len(h) - (n - 1) :] if n > 1 else []:
                ctx = ctx * self.V + int(x)
            ctx_arr = np.array([ctx], dtype=np.int64)
            total = self._lookup(lv["ctx"], lv["totals"], ctx_arr)[0]
            if total <= 0:
                continue
            types = self._lookup(lv["ctx"], lv["types"], ctx_arr)[0]
            c = self._lookup(lv["keys"], lv["counts"], ctx * self.V + w)
            prob = np.maximum(c - lv["d"], 0) / total + lv["d"] * types / total * prob
        return prob
