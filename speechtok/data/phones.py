"""The phone inventory (ARPAbet, as in CMUdict, pocketsphinx and flite) and frame labels.

Every phone source in speechtok (pocketsphinx alignments, flite's own segment timings) is
mapped onto one inventory of 40 labels: ``SIL`` (id 0) and the 39 CMUdict phones. Stress
digits are dropped, flite's ``pau`` and ``ax`` become ``SIL`` and ``AH``, fillers (``+NSN+``,
``+SPN+``, ...) become ``SIL``.

Frames: at frame rate R on audio of S samples at 16 kHz, hop = 16000 / R and frame i covers
samples ``[i*hop, (i+1)*hop)``. The default frame count is ``ceil(S / hop)`` (the last frame may
be partial); a caller whose model makes a different count passes ``num_frames``. Frame i is
labelled with the phone that covers its centre ``(i + 0.5) * hop``; centres past the end of
the alignment take the last segment's label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

SAMPLE_RATE = 16000
SILENCE = "SIL"
PHONES: tuple[str, ...] = (
    SILENCE,
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G",
    "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T",
    "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
PHONE_TO_ID = {p: i for i, p in enumerate(PHONES)}
NUM_PHONES = len(PHONES)
_ALIASES = {"PAU": SILENCE, "SIL": SILENCE, "SP": SILENCE, "AX": "AH", "H#": SILENCE}


def phone_id(name: str) -> int:
    """An ARPAbet phone in any case, with or without stress digit, to its id in ``PHONES``.

    Raises ValueError for a name that is neither a phone nor a known silence/filler."""
    p = name.strip().upper().rstrip("012")
    p = _ALIASES.get(p, p)
    if p.startswith("+") or p.startswith("<"):  # pocketsphinx fillers (+NSN+, <sil>)
        p = SILENCE
    try:
        return PHONE_TO_ID[p]
    except KeyError:
        raise ValueError(f"unknown phone {name!r} (expected ARPAbet, e.g. {', '.join(PHONES[1:6])})") from None


@dataclass(frozen=True)
class Segment:
    """One phone and its time span in seconds from the start of the audio."""

    phone: str
    start: float
    end: float


def hop_samples(frame_rate: float, sample_rate: int = SAMPLE_RATE) -> float:
    """Samples per frame (a float: 16000 / 12.5 = 1280, but rates need not divide evenly)."""
    if frame_rate <= 0:
        raise ValueError(f"frame rate must be positive, got {frame_rate}")
    return sample_rate / frame_rate


def num_frames_for(num_samples: int, frame_rate: float, sample_rate: int = SAMPLE_RATE) -> int:
    """The default frame count: ``ceil(num_samples / hop)``."""
    return int(math.ceil(num_samples / hop_samples(frame_rate, sample_rate) - 1e-9))


def frame_centres(num_frames: int, frame_rate: float) -> np.ndarray:
    """Centre times in seconds of frames 0..num_frames-1: ``(i + 0.5) / frame_rate``."""
    return (np.arange(num_frames) + 0.5) / frame_rate


def segments_to_frames(
    segments: Sequence[Segment], frame_rate: float, num_frames: int, offset: float = 0.0
) -> np.ndarray:
    """Phone segments -> ``(num_frames,)`` int64 phone ids, by frame centre (see module doc).

    ``offset``: seconds into the segments' time line where frame 0 starts (a crop of the
    aligned utterance starting there)."""
    if not segments:
        raise ValueError("no segments to label frames with")
    ends = np.array([s.end for s in segments])
    ids = np.array([phone_id(s.phone) for s in segments])
    idx = np.searchsorted(ends, offset + frame_centres(num_frames, frame_rate), side="right")
    return ids[np.minimum(idx, len(ids) - 1)].astype(np.int64)


def resample_labels(labels: np.ndarray, from_rate: float, to_rate: float, num_frames: int) -> np.ndarray:
    """Frame labels at one rate -> ``(num_frames,)`` at another, by frame centre."""
    src = np.floor(frame_centres(num_frames, to_rate) * from_rate).astype(np.int64)
    return np.asarray(labels)[np.clip(src, 0, len(labels) - 1)]


def phone_sequence(segments: Iterable[Segment], keep_silence: bool = False) -> list[int]:
    """The phone ids in order (what a recognizer should output), silence dropped by default."""
    ids = [phone_id(s.phone) for s in segments]
    return [i for i in ids if keep_silence or i != 0]


def segments_from_rows(rows: Sequence[Sequence]) -> list[Segment]:
    """``[[phone, start, end], ...]`` (as stored in alignment files) -> Segments."""
    return [Segment(str(p), float(a), float(b)) for p, a, b in rows]


def segments_to_rows(segments: Iterable[Segment]) -> list[list]:
    return [[s.phone, round(s.start, 4), round(s.end, 4)] for s in segments]
