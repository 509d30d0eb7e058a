"""Stream LM training windows from the Parquet shards of `speechtok tokenize`, never loading them whole.

Rows are read a record batch at a time (only the ``codes`` columns), shards in a seeded order per
epoch, rows through a seeded shuffle buffer. Each row becomes ``BOS content… EOS`` (``layout.py``)
and the sequences are packed end to end into windows of ``context + 1`` ids (inputs and shifted
targets), so no step is spent on padding.

The stream is a pure function of (folder, layout, seed): ``batches(start_step)`` replays it and
skips the windows already trained on, which makes a resumed run see exactly the batches an
uninterrupted run would have seen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow.parquet as pq

from ..corpus.shards import shard_files
from .layout import Layout

CODE_COLUMNS = ["id", "codes", "num_codebooks", "frames", "duration"]


def token_folder_info(folder: str | Path) -> dict:
    """Tokenizer facts of a folder written by `speechtok tokenize`: ``tokenizer``, ``frame_rate``,
    ``codebook_sizes``, ``hours``, ``tokens``. Clear errors for anything else."""
    p = Path(folder)
    index = p / "index.json"
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: no such folder (make token shards with `speechtok tokenize`)")
    if not index.exists():
        raise ValueError(f"{p}: not a finished `speechtok tokenize` output (no index.json); rerun that command to finish it")
    data = json.loads(index.read_text())
    if not data["totals"]["utterances"]:
        raise ValueError(f"{p}: holds no utterances")
    return {
        "tokenizer": data["tokenizer"],
        "frame_rate": float(data["frame_rate"]),
        "codebook_sizes": [int(s) for s in data["codebook_sizes"]],
        "hours": float(data["totals"]["hours"]),
        "tokens": int(data["totals"]["tokens"]),
        "utterances": int(data["totals"]["utterances"]),
    }


def iter_rows(folder: str | Path, seed: int | None = None, epoch: int = 0, shuffle_buffer: int = 0,
              limit: int = 0, batch_rows: int = 64) -> Iterator[dict]:
    """Rows ``{"id", "codes" [K, T] int64, "duration"}`` of every shard. With ``seed``: shards in a
    seeded order and rows through a shuffle buffer of ``shuffle_buffer`` rows; else in file order."""
    files = shard_files(Path(folder))
    rng = np.random.default_rng([seed, epoch]) if seed is not None else None
    if rng is not None:
        files = [files[i] for i in rng.permutation(len(files))]
    buffer: list[dict] = []
    n = 0

    def rows():
        for path in files:
            try:
                pf = pq.ParquetFile(path)
                for rb in pf.iter_batches(batch_size=batch_rows, columns=CODE_COLUMNS):
                    books = rb.column("num_codebooks").to_numpy().astype(np.int64)
                    frames = rb.column("frames").to_numpy().astype(np.int64)
                    flat = rb.column("codes").flatten().flatten().to_numpy().astype(np.int64)
                    ends = np.cumsum(books * frames)
                    ids = rb.column("id").to_pylist()
                    durations = rb.column("duration").to_numpy()
                    for i in range(rb.num_rows):
                        start = ends[i] - books[i] * frames[i]
                        yield {"id": ids[i], "codes": flat[start : ends[i]].reshape(books[i], frames[i]), "duration": float(durations[i])}
            except OSError as e:
                raise ValueError(f"{path}: cannot read token shard ({e})") from None

    for row in rows():
        if rng is None or shuffle_buffer <= 1:
            yield row
            n += 1
        else:
            buffer.append(row)
            if len(buffer) < shuffle_buffer:
                continue
            j = int(rng.integers(len(buffer)))
            buffer[j], buffer[-1] = buffer[-1], buffer[j]
            yield buffer.pop()
            n += 1
        if limit and n >= limit:
            return
    if rng is not None:
        for j in rng.permutation(len(buffer)):
            if limit and n >= limit:
                return
            yield buffer[j]
            n += 1


class PackedStream:
    """Endless ``(batch, streams, context + 1)`` int64 windows from a token folder (or from rows
    ``{"codes": [K, T]}`` held in memory, e.g. an LM's own greedy continuations; see ``mtp.py``)."""

    def __init__(self, folder: str | Path, layout: Layout, context: int, batch_size: int, seed: int = 0,
                 shuffle_buffer: int = 256, rank: int = 0, world_size: int = 1, texts: dict | None = None):
        self.folder, self.layout, self.context, self.batch_size = folder, layout, context, batch_size
        self.seed, self.shuffle_buffer, self.rank, self.world_size = seed, shuffle_buffer, rank, world_size
        self.texts = texts  # utterance id -> phone ids: text-prefixed sequences (``Layout.text_wrap``)

    def _rows(self, epoch: int):
        if isinstance(self.folder, list):
            return (self.folder[i] for i in np.random.default_rng([self.seed, epoch]).permutation(len(self.folder)))
        return iter_rows(self.folder, self.seed, epoch, self.shuffle_buffer)

    def text_windows(self) -> Iterator[np.ndarray]:
        """Windows of whole ``BOS phones SEP speech END EOS`` sequences (never cut: speech needs its
        text in view), packed end to end and padded with PAD; utterances with no text or longer
        than the context are left out (``self.skipped`` counts them, per epoch)."""
        width = self.context + 1
        pad = self.layout.pad()[:, None]
        window = np.zeros((self.layout.num_streams, 0), dtype=np.int64)
        epoch = 0
        while True:
            used, self.skipped = 0, 0
            for row in self._rows(epoch):
                phones = self.texts.get(row["id"])
                seq = None if phones is None else self.layout.text_wrap(phones, row["codes"])
                if seq is None or seq.shape[1] > width:
                    self.skipped += 1
                    continue
                used += 1
                if window.shape[1] + seq.shape[1] > width:
                    yield np.concatenate([window, np.repeat(pad, width - window.shape[1], axis=1)], axis=1)
                    window = window[:, :0]
                window = np.concatenate([window, seq], axis=1)
            if not used:
                raise ValueError(f"{self.folder}: no utterance has a text (data.text) and fits model.context = {self.context}")
            epoch += 1

    def windows(self) -> Iterator[np.ndarray]:
        if self.texts is not None:
            yield from self.text_windows()
            return
        width = self.context + 1
        carry = np.zeros((self.layout.num_streams, 0), dtype=np.int64)
        epoch = 0
        while True:
            empty = True
            for row in self._rows(epoch):
                empty = False
                seq = self.layout.wrap(self.layout.encode(row["codes"]))
                carry = np.concatenate([carry, seq], axis=1)
                while carry.shape[1] >= width:
                    yield carry[:, :width]
                    carry = carry[:, self.context :]  # the last id is the next window's first input
            if empty:
                raise ValueError(f"{'the given rows' if isinstance(self.folder, list) else self.folder}: no rows to train on")
            epoch += 1

    def batches(self, start_step: int = 0) -> Iterator[np.ndarray]:
        """Batch ``start_step``, ``start_step + 1``, … (this rank's share of every global batch)."""
        it = self.windows()
        step = 0
        while True:
            batch = [next(it) for _ in range(self.batch_size * self.world_size)]
            if step >= start_step:
                yield np.stack(batch[self.rank :: self.world_size])
            step += 1

    def weight(self, batch: np.ndarray) -> np.ndarray:
        """Training weight of each target ``batch[..., 1:]``: 0 where it is PAD (delay layout); with
        texts, ``Layout.text_weight`` (speech and the stop decision only)."""
        if self.texts is not None:
            return self.layout.text_weight(batch)
        return (batch[..., 1:] != self.layout.pad()[None, :, None]).astype(np.float32)
