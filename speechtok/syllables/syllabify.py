"""Reference syllables from ARPAbet phone alignments, and syllable-boundary measures.

**Syllabification rule.** Within each aligned word: one syllable per vowel (the 15 ARPAbet
vowels, ER included; stress digits ignored). The consonants between two vowels go by **maximal
onset**: the next syllable takes the longest tail of the cluster that is a legal English onset
(``LEGAL_ONSETS``: any single consonant but NG, and the usual two- and three-consonant onsets
such as S T R, P L, K W); the rest closes the previous syllable. Consonants before the first
vowel open the first syllable, those after the last close the last. A word boundary is always
a syllable boundary; a word without a vowel (rare) is one syllable. Silence is no syllable.

**Boundaries** of a list of syllables: every start and end, times within ``merge`` seconds of
each other counted once (so the end of one syllable and the start of the next are one boundary,
and a pause gives two: its start and its end). **Scores** (``boundary_scores``): each reference
boundary is matched to at most one hypothesis boundary within ``tolerance`` (closest pairs
first); precision = hits / hypotheses, recall = hits / references, F1, over-segmentation
OS = recall / precision - 1, and the R-value of Räsänen et al. (2009).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
_STOPS = ("P", "B", "T", "D", "K", "G")
LEGAL_ONSETS = frozenset(
    {(c,) for c in "B CH D DH F G HH JH K L M N P R S SH T TH V W Y Z ZH".split()}
    | {(a, b) for a in ("P", "B", "K", "G", "F") for b in ("L", "R")}
    | {(a, "R") for a in ("T", "D", "TH", "SH")}
    | {(a, "W") for a in ("T", "D", "K", "G", "S", "TH")}
    | {(a, "Y") for a in ("P", "B", "K", "G", "F", "V", "M", "N", "HH", "L")}
    | {("S", b) for b in ("P", "T", "K", "M", "N", "L", "F")}
    | {("S", "P", "L"), ("S", "P", "R"), ("S", "T", "R"), ("S", "K", "R"), ("S", "K", "W"), ("S", "K", "L"),
       ("S", "P", "Y"), ("S", "K", "Y")}
)


@dataclass(frozen=True)
class Syllable:
    phones: tuple[str, ...]
    start: float
    end: float

    @property
    def nucleus(self) -> str:
        """The syllable's vowel (its first phone when it has none)."""
        return next((p for p in self.phones if p in VOWELS), self.phones[0])

    @property
    def label(self) -> str:
        return "-".join(self.phones)


def _base(phone: str) -> str:
    return phone.upper().rstrip("012")


def syllabify(phones: Sequence[str]) -> list[list[int]]:
    """The phones of one word -> syllables as lists of indices into ``phones`` (see module doc)."""
    ph = [_base(p) for p in phones]
    vowels = [i for i, p in enumerate(ph) if p in VOWELS]
    if not vowels:
        return [list(range(len(ph)))] if ph else []
    starts = [0]
    for v, w in zip(vowels[:-1], vowels[1:]):
        cluster = ph[v + 1 : w]
        onset = 0  # length of the longest legal onset at the end of the cluster
        for n in range(len(cluster), 0, -1):
            if tuple(cluster[len(cluster) - n :]) in LEGAL_ONSETS:
                onset = n
                break
        starts.append(w - onset)
    ends = starts[1:] + [len(ph)]
    return [list(range(a, b)) for a, b in zip(starts, ends)]


def reference_syllables(phones: Sequence, words: Sequence) -> list[Syllable]:
    """Aligned phones and words (``phones.Segment`` or ``[name, start, end]`` rows) -> syllables.

    A phone belongs to the word whose span holds its midpoint; silence and fillers are left out."""
    def rows(xs):
        return [(x.phone, x.start, x.end) if hasattr(x, "phone") else (str(x[0]), float(x[1]), float(x[2])) for x in xs]

    ph = [(n, a, b) for n, a, b in rows(phones) if _base(n) not in ("SIL", "SP") and not n.startswith(("+", "<"))]
    out: list[Syllable] = []
    for name, ws, we in rows(words):
        if name.startswith(("<", "+")) or name.lower() in ("sil", "sp"):
            continue
        mine = [p for p in ph if ws <= (p[1] + p[2]) / 2 < we]
        for idx in syllabify([p[0] for p in mine]):
            sel = [mine[i] for i in idx]
            out.append(Syllable(tuple(_base(p[0]) for p in sel), sel[0][1], sel[-1][2]))
    return out


def boundaries(segments: Sequence, merge: float = 0.01) -> list[float]:
    """Sorted boundary times of ``[(start, end), ...]`` or Syllables (see module doc)."""
    times = sorted(t for s in segments for t in ((s.start, s.end) if hasattr(s, "start") else (s[0], s[1])))
    out: list[float] = []
    for t in times:
        if not out or t - out[-1] > merge:
            out.append(float(t))
    return out


def match_boundaries(ref: Sequence[float], hyp: Sequence[float], tolerance: float) -> int:
    """Number of one-to-one matches within ``tolerance`` seconds, closest pairs first."""
    pairs = sorted((abs(r - h), i, j) for i, r in enumerate(ref) for j, h in enumerate(hyp) if abs(r - h) <= tolerance + 1e-9)
    used_r, used_h, hits = set(), set(), 0
    for _, i, j in pairs:
        if i not in used_r and j not in used_h:
            used_r.add(i)
            used_h.add(j)
            hits += 1
    return hits


def scores_from_counts(hits: int, num_ref: int, num_hyp: int) -> dict[str, float]:
    """Precision, recall, F1, over-segmentation and R-value from match counts."""
    p = hits / num_hyp if num_hyp else 0.0
    r = hits / num_ref if num_ref else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    os_ = r / p - 1 if p else 0.0
    r1 = math.sqrt((1 - r) ** 2 + os_**2)
    r2 = (-os_ + r - 1) / math.sqrt(2)
    return {"precision": p, "recall": r, "f1": f1, "os": os_, "r_value": 1 - (abs(r1) + abs(r2)) / 2,
            "hits": hits, "num_ref": num_ref, "num_hyp": num_hyp}


def boundary_scores(ref: Sequence[float], hyp: Sequence[float], tolerance: float = 0.05) -> dict[str, float]:
    """Scores of hypothesis boundaries against reference ones (times in seconds)."""
    return scores_from_counts(match_boundaries(ref, hyp, tolerance), len(ref), len(hyp))
