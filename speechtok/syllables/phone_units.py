"""The ``phone-units`` tokenizer family: one token per phone the ASR teacher hears.

The syllable tokens (``tokenizer.py``) cluster pooled features without labels, and an LM on them
scores at chance on the lexical test (benchmarks/lm). These tokens take the other road the papers
take for content (ASR-teacher distillation, as in DM-Codec and LM-SPT): the shipped PhoneCTC's frame
head (``speechtok/assets/phone_ctc``: 39 phones + silence at 50 Hz) labels every 20 ms frame, a
Viterbi pass over its log-posteriors with a cost per label change (``switch_cost``) turns the
frame labels into runs, and each run of a phone becomes one token of the same three codes as a
syllable token:

- **codebook 0, phone** (40 codes): the run's phone, 0..38 (``data.phones`` order without SIL);
  code 39 is a **pause**: silence runs, one pause token per second or part of it;
- **codebook 1, duration** and **codebook 2, pitch**: as the syllable tokens (``codes.py``).

So the tokens come at the rate of phones, about 10 a second on read speech (a text LM's phone
rate; ``frame_rate`` is nominal: 10), and the content stream alone is at most
``log2(40) = 5.3`` bits a token. They decode through the syllable decoder's network trained on
these units (``decoder_phones_vN.*`` in ``speechtok/assets/syllables``, one per teacher;
``python -m speechtok.syllables train-decoder --units phones``).

Names: ``phone-units`` (the default teacher, ``DEFAULT_TEACHER``), ``phone-units:v1`` / ``:v2`` /
... (a shipped teacher by version: ``v1`` is the one the syllable tokens and codecs use; a
version folder may be an ensemble, ``ensemble.json`` naming member teachers whose frame
posteriors are averaged in the log domain, as ``v7`` is),
``:sX`` for another switch cost (e.g. ``phone-units:v1:s4``), and ``phone-units:hf:<model>``: a
transformers phoneme CTC model (hub id or folder) as the teacher, encode-only
(``hf_phone_units.py``).

They are only as good as the teacher: the greedy PER of the teachers, trained on one real English
voice and synthetic ones, is 0.23-0.44 on the English Asterisk test split (v4, the default: 0.23)
and, on an espeak-ng voice none of them heard, 0.60 (v1) down to 0.03 (v4)
(benchmarks/phone_units/teacher_per.md). Other speakers, accents and microphones than the one real
voice are untested.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..data.phones import SAMPLE_RATE
from ..errors import SpeechtokError
from .codes import DUR_LEVELS, F0_LEVELS, decoder_paths, duration_code, pitch_code
from .tokenizer import ENSEMBLE_FILE, SyllableTokenizer, phone_posteriors, syllable_f0, teacher_digest, token_spans

NUM_PHONES = 39  # the frame head's classes are SIL (0) and these 39
FRAME = 0.02  # seconds per PhoneCTC frame
NOMINAL_RATE = 10.0
DEFAULT_SWITCH_COST = 2.0
_ASSETS = Path(__file__).resolve().parent.parent / "assets"
_SHIPPED_V1 = _ASSETS / "phone_ctc"
DEFAULT_TEACHER = "v4"  # the teacher ``phone-units`` uses (assets/phone_ctc_v4/TRAINING.md)


def teacher_folder(version: str) -> Path:
    """The shipped PhoneCTC of a teacher version: ``v1`` = ``assets/phone_ctc`` (the syllables' and
    codecs' teacher), ``vN`` = ``assets/phone_ctc_vN``."""
    return _SHIPPED_V1 if version == "v1" else _ASSETS / f"phone_ctc_{version}"


_PHONE_CTC = teacher_folder(DEFAULT_TEACHER) / "model.safetensors"


def smooth_labels(log_post: np.ndarray, switch_cost: float) -> np.ndarray:
    """The label path maximizing ``sum_t log_post[t, label_t] - switch_cost * (changes)``:
    frame labels without the one-frame flickers of a plain argmax. ``(T, K)`` -> ``(T,)``."""
    T, K = log_post.shape
    if T == 0:
        return np.zeros(0, np.int64)
    score = log_post[0].astype(np.float64).copy()
    back = np.zeros((T, K), np.int64)
    for t in range(1, T):
        j = int(score.argmax())
        switch = score[j] - switch_cost
        stay = score >= switch
        back[t] = np.where(stay, np.arange(K), j)
        score = np.where(stay, score, switch) + log_post[t]
    path = np.zeros(T, np.int64)
    path[-1] = int(score.argmax())
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """``[(label, first frame, end frame)]`` of the runs of equal labels."""
    out: list[tuple[int, int, int]] = []
    start = 0
    for t in range(1, len(labels) + 1):
        if t == len(labels) or labels[t] != labels[start]:
            out.append((int(labels[start]), start, t))
            start = t
    return out


class PhoneUnitTokenizer(SyllableTokenizer):
    """Three codes per phone run of the PhoneCTC teacher: phone (plus a pause code), duration, pitch.

    Decodes where the phone-unit decoder ships (``can_decode``), in the voice of ``speaker``."""

    version = "1"
    sample_rate = SAMPLE_RATE
    frame_rate = NOMINAL_RATE
    streams = ["content", "duration", "pitch"]

    def __init__(self, switch_cost: float = DEFAULT_SWITCH_COST, speaker: str | None = None,
                 teacher: str | Path | None = None):
        """``teacher``: a shipped version (``"v1"``, ``"v2"``, ...; None = ``DEFAULT_TEACHER``) or
        a folder written by ``PhoneCTC.save``."""
        version = teacher if teacher is None or re.fullmatch(r"v\d+", str(teacher)) else None
        self.teacher = teacher_folder(version or DEFAULT_TEACHER) if teacher is None or version else Path(teacher)
        if not (self.teacher / "model.safetensors").exists() and not (self.teacher / ENSEMBLE_FILE).exists():
            raise SpeechtokError(f"{self.teacher / 'model.safetensors'}: the PhoneCTC teacher these tokens come from is missing")
        self.switch_cost = float(switch_cost)
        self.name = "phone-units" + (f":{version}" if version and teacher is not None else "") + \
            ("" if self.switch_cost == DEFAULT_SWITCH_COST else f":s{self.switch_cost:g}")
        self._set_phone_count(NUM_PHONES)
        self.model_id = f"{teacher_digest(self.teacher)}-s{self.switch_cost:g}"
        self.version = f"1+{self.model_id}"  # token caches (lm bench, tokenize) follow the teacher
        self.speaker = speaker
        self._decoder = None
        # a shipped decoder learns one shipped teacher's units at the default smoothing
        self.decoder_key = f"phones_{version or DEFAULT_TEACHER}"
        self.can_decode = ((teacher is None or version is not None) and self.switch_cost == DEFAULT_SWITCH_COST
                           and all(p.exists() for p in decoder_paths(self.decoder_key)))

    def _set_phone_count(self, k: int) -> None:
        """The codebooks of ``k`` phones: phone (+ the pause code ``k``), duration, pitch."""
        self.k = k
        self.codebook_sizes = (k + 1, DUR_LEVELS, F0_LEVELS + 1)
        self.pause_code = k

    def posteriors(self, wav: np.ndarray) -> np.ndarray:
        """``(ceil(samples / 320), 40)`` frame-head posteriors of this tokenizer's teacher."""
        return phone_posteriors(wav, None if self.teacher == _SHIPPED_V1 else self.teacher)

    def frame_labels(self, wav: np.ndarray) -> np.ndarray:
        """The smoothed 50 Hz frame labels: 0 = silence, 1..39 the phones."""
        post = self.posteriors(wav)
        return smooth_labels(np.log(np.maximum(post, 1e-8)), self.switch_cost)

    def spans(self, wav: np.ndarray) -> list[tuple[float, float, bool]]:
        return self.labelled_spans(wav)[0]

    def labelled_spans(self, wav: np.ndarray):
        """Token spans ``(start, end, is_pause)`` and the phone code of each non-pause span."""
        duration = len(wav) / SAMPLE_RATE
        phones = [(lab, min(a * FRAME, duration), min(b * FRAME, duration)) for lab, a, b in runs(self.frame_labels(wav)) if lab]
        spans = token_spans([(a, b) for _, a, b in phones if b > a], duration)
        labels = [lab - 1 for lab, a, b in phones if b > a]
        return spans, labels

    def codes_and_spans(self, wav: np.ndarray) -> tuple[np.ndarray, list[tuple[float, float, bool]]]:
        """``[3, tokens]`` codes of a 16 kHz waveform and each token's ``(start, end, is_pause)``."""
        spans, labels = self.labelled_spans(wav)
        codes = np.zeros((3, len(spans)), np.int64)
        is_phone = np.array([not p for _, _, p in spans], bool)
        codes[1] = duration_code([b - a for a, b, _ in spans])
        codes[0, ~is_phone] = self.pause_code
        if labels:
            codes[0, is_phone] = labels
            codes[2, is_phone] = pitch_code(syllable_f0(wav, [(a, b) for a, b, p in spans if not p]))
        return codes, spans

    def _encode(self, wav):
        return self.codes_and_spans(wav)[0]

    def _decode(self, codes, num_samples, tokens):
        if np.asarray(codes).shape[0] != 3:
            raise SpeechtokError(f"{self.name} decodes all three codebooks (phone, duration, pitch)")
        return self.decoder.decode(np.asarray(codes, np.int64), num_samples, self.speaker)


# ---- registry family ----------------------------------------------------------------------
_NAME = re.compile(r"^phone-units(?::(?P<t>v\d+))?(?::s(?P<s>[0-9.]+))?$")


def names() -> list[str]:
    out = ["phone-units"] if _PHONE_CTC.exists() else []
    versions = ["v1"] + sorted((p.name.split("_")[-1] for p in _ASSETS.glob("phone_ctc_v*")
                                if re.fullmatch(r"phone_ctc_v\d+", p.name) and _is_teacher(p)), key=lambda v: int(v[1:]))
    return out + [f"phone-units:{v}" for v in versions if _is_teacher(teacher_folder(v))]


def _is_teacher(folder: Path) -> bool:
    return (folder / "model.safetensors").exists() or (folder / ENSEMBLE_FILE).exists()


def resolve(name: str):
    m = _NAME.match(name)  # phone-units:hf:<model> is hf_phone_units' own registry family
    if not m:
        return None
    return PhoneUnitTokenizer(float(m["s"]) if m["s"] else DEFAULT_SWITCH_COST, teacher=m["t"])


def describe(name: str) -> dict | None:
    m = _NAME.match(name)
    if not m or not _is_teacher(teacher_folder(m["t"] or DEFAULT_TEACHER)):
        return None
    return {"sample_rate": SAMPLE_RATE, "frame_rate": NOMINAL_RATE, "codebook_sizes": [NUM_PHONES + 1, DUR_LEVELS, F0_LEVELS + 1]}
