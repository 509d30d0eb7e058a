"""Phonetic content codebooks for the source-filter codec: the issue-6 phones objective moved
into the quantizer.

The codec has no learned encoder, so a teacher can only shape its codebooks. A frozen phone
recognizer (``speechtok.teachers.phone_ctc.PhoneCTC``, the shipped 50 Hz teacher) gives phone
posteriors for every training frame; the first envelope stage is then fitted so that its
centroids separate phones, and the later stages stay plain residual k-means. Decoding never runs
the teacher; whether encoding does depends on the variant.

Two ways to bring the teacher into stage 1 (``QuantConfig.semantic``); both fit stage 1 with
k-means on ``[features ; w * posteriors]`` and keep the feature part of each centroid for decoding:

``joint``
    encoding assigns by feature distance alone, so the teacher is needed for training only and
    the phonetic structure is only what the centroids inherited. Measured on the valid split
    (``benchmarks/sourcefilter/semantic_sweep.py``), that is almost nothing: a frame's envelope
    holds little phone identity that 2048 plain k-means units do not already expose.
``teacher``
    the codec keeps the teacher (``teacher.EmbeddedPhoneTeacher``, 0.86 M parameters, inside the
    model file) and the phonetic part of the stage-1 centroids; encoding runs the teacher on the
    whole utterance and assigns stage 1 by the joint distance. Decoding never runs it. The teacher
    is a bidirectional recurrent net over the whole file, so such a model does not stream.

``w`` (``semantic_weight``) is relative: the teacher part gets ``w`` times the total variance of
the features (``w = 0`` would be plain k-means).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ...errors import SpeechtokError
from ...fsutil import file_digest, write_atomic
from .config import SHARD
from .teacher import teacher_posteriors


def load_teacher(path: str = ""):
    """(frozen PhoneCTC, digest of its weights) from ``path`` ("" = the shipped teacher)."""
    from ...teachers.phone_ctc import ASSET, PhoneCTC

    folder = Path(path) if path else ASSET
    try:
        return PhoneCTC.load(folder), file_digest(folder / "model.safetensors")
    except FileNotFoundError as e:
        raise SpeechtokError(f"semantic teacher: {e}") from None


def teacher_cache(manifest: str, cache: Path, hop: int, lengths: np.ndarray, teacher_path: str = "",
                  sample_rate: int = 16000, progress: bool = True) -> np.ndarray:
    """Posteriors of every utterance of ``manifest`` (its order, concatenated), cached by shard in
    ``cache``; ``lengths`` (frames per utterance, from the analysis cache) must match."""
    from ...audio import load_audio
    from ...data.manifest import read_manifest

    utts = read_manifest(manifest)
    teacher, digest = load_teacher(teacher_path)
    cache.mkdir(parents=True, exist_ok=True)
    key = json.dumps({"teacher": digest, "hop": hop, "sr": sample_rate}, sort_keys=True)
    key_file = cache / "teacher.json"
    if key_file.exists() and key_file.read_text() != key:
        raise SpeechtokError(f"{cache}: teacher posteriors made by another teacher or frame rate ({key_file}); "
                             "delete the folder or use another --out")
    if not key_file.exists():
        write_atomic(key_file, lambda p: p.write_text(key))
    parts = []
    bar = tqdm(total=len(utts), desc=f"teacher {Path(manifest).name}", unit="utt", disable=not progress)
    for s in range(math.ceil(len(utts) / SHARD)):
        f = cache / f"{Path(manifest).stem}-{s:04d}.npy"
        batch = utts[s * SHARD : (s + 1) * SHARD]
        if not f.exists():
            post = np.concatenate([teacher_posteriors(teacher, load_audio(u.path, sample_rate)[0], hop, sample_rate)
                                   for u in batch])
            write_atomic(f, lambda p: np.save(open(p, "wb"), post))
        parts.append(np.load(f))
        bar.update(len(batch))
    bar.close()
    post = np.concatenate(parts)
    if len(post) != int(np.sum(lengths)):
        raise SpeechtokError(f"{cache}: {len(post)} teacher frames for {int(np.sum(lengths))} analysis frames of "
                             f"{manifest}; the manifest changed since one of the caches was made: delete {cache}")
    return post


def side_scale(x: torch.Tensor, side: torch.Tensor, weight: float) -> float:
    """The factor that gives ``side`` ``weight`` times the total variance of ``x``."""
    vx, vs = float(x.var(0).sum()), float(side.var(0).sum())
    return math.sqrt(weight * vx / max(vs, 1e-12))
