"""Training data: utterances from a manifest, held in memory, cropped into random segments.

Each step's batch is a pure function of (seed, rank, step), so a resumed run sees exactly the
batches the uninterrupted run would have seen.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..audio import load_audio
from ..errors import AudioError


def _read(args):
    path, sample_rate = args
    try:
        return load_audio(path, sample_rate)[0]
    except AudioError as e:
        return e


def load_manifest_audio(
    manifest: str | Path, sample_rate: int, limit: int | None = None, progress: bool = True, workers: int = 1
):
    """Read every utterance of a manifest (or folder) at ``sample_rate``, in ``workers`` processes.
    Returns (ids, list of float32 (samples,) arrays); unreadable files are skipped with a warning."""
    from ..data.manifest import list_inputs

    utts = list_inputs(manifest)[: limit or None]  # raises ManifestError when there are none
    jobs = [(u.path, sample_rate) for u in utts]
    bar = dict(desc=f"loading {Path(manifest).name}", disable=not progress, leave=False, total=len(jobs))
    if workers > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool:
            results = list(tqdm(pool.imap(_read, jobs, chunksize=8), **bar))
    else:
        results = [_read(j) for j in tqdm(jobs, **bar)]
    ids, wavs = [], []
    for u, r in zip(utts, results):
        if isinstance(r, AudioError):
            print(f"warning: skipping {r}")
            continue
        ids.append(u.id)
        wavs.append(r)
    if not wavs:
        raise AudioError(f"{manifest}: none of its {len(utts)} utterances could be read")
    return ids, wavs


def phone_label_track(row: dict, num_samples: int, sample_rate: int = 16000) -> np.ndarray:
    """One forced-alignment row -> per-sample phone ids (int8, -1 where nothing is aligned)."""
    from ..data.forced_align import phone_segments
    from ..data.phones import phone_id

    track = np.full(num_samples, -1, dtype=np.int8)
    for seg in phone_segments(row):
        a, b = int(round(seg.start * sample_rate)), int(round(seg.end * sample_rate))
        track[max(0, a) : max(0, min(b, num_samples))] = phone_id(seg.phone)
    return track


class SegmentSampler:
    """Random fixed-length segments, utterances drawn in proportion to their length."""

    def __init__(
        self,
        wavs: list[np.ndarray],
        segment: int,
        seed: int = 0,
        rank: int = 0,
        gain_db: float = 0.0,
        labels: list[np.ndarray | None] | None = None,
        hop: int = 320,
    ):
        """labels: optional per-sample label tracks (int8, -1 = none) beside ``wavs``; then
        ``batch`` also returns frame labels (batch, segment / hop), taken at each frame's centre."""
        self.segment, self.hop = segment, hop
        lengths = np.array([len(w) for w in wavs], dtype=np.float64)
        self.audio = torch.from_numpy(np.concatenate(wavs).astype(np.float32))
        self.labels = None
        if labels is not None:
            tracks = [t if t is not None else np.full(len(w), -1, np.int8) for t, w in zip(labels, wavs)]
            self.labels = torch.from_numpy(np.concatenate(tracks).astype(np.int64))
        self.starts = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64))
        self.lengths = torch.from_numpy(lengths.astype(np.int64))
        self.weights = torch.from_numpy(np.maximum(lengths, 1.0))
        self.seed, self.rank, self.gain_db = seed, rank, gain_db

    @property
    def hours(self) -> float:
        return float(self.lengths.sum()) / 16000 / 3600

    def batch(self, step: int, batch_size: int):
        """(batch_size, segment) float32 [, (batch_size, segment // hop) int64 labels],
        a function of (seed, rank, step) only."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.rank * 7919 + step)
        idx = torch.multinomial(self.weights, batch_size, replacement=True, generator=g)
        out = torch.zeros(batch_size, self.segment)
        lab = torch.full((batch_size, self.segment // self.hop), -1, dtype=torch.int64)
        centres = torch.arange(self.segment // self.hop) * self.hop + self.hop // 2
        u = torch.rand(batch_size, generator=g)
        gains = 10 ** ((torch.rand(batch_size, generator=g) * 2 - 1) * self.gain_db / 20)
        for b, i in enumerate(idx.tolist()):
            n = int(self.lengths[i])
            take = min(n, self.segment)
            off = int(u[b] * (n - take + 1)) if n > take else 0
            s = int(self.starts[i]) + off
            out[b, :take] = self.audio[s : s + take]
            if self.labels is not None:
                ok = centres < take
                lab[b, ok] = self.labels[s + centres[ok]]
        peak = out.abs().amax(dim=1, keepdim=True).clamp_min(1e-4)
        gains = torch.minimum(gains[:, None], 0.99 / peak)  # never clip
        return (out * gains, lab) if self.labels is not None else out * gains
