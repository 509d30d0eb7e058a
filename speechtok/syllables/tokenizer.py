"""The ``syllables`` tokenizer family: one token of three codes per syllable.

Each utterance is cut into syllables by ``segment.segment`` and every syllable becomes one column
of ``Tokens.codes`` (``[3, tokens]``, variable rate):

- **codebook 0, content** (``k + 1`` codes): the nearest of ``k`` k-means centroids to the
  syllable's pooled features: PhoneCTC frame posteriors (40 phone classes, 50 Hz, the shipped
  ``speechtok/assets/phone_ctc`` model) and MFCC + Δ + ΔΔ (39, 100 Hz, utterance mean removed),
  each averaged over the syllable's first, middle and last third: 120 + 117 dims, standardised
  with the training set's statistics, each block scaled to the same total variance. Code ``k``
  is a **pause**: the silence before, between (gaps of 60 ms or more) and after speech runs, one
  pause token per second or part of it (so the durations of all tokens add up to the audio).
- **codebook 1, duration** (16 codes): ``round(15 * log(d / 20 ms) / log(50))``, clipped: log
  steps from 20 ms to 1 s (about 30% apart).
- **codebook 2, pitch** (33 codes): 0 = unvoiced (fewer than 20% of the syllable's 5 ms frames
  voiced, WORLD DIO + StoneMask, 50-500 Hz); else ``1 + round(31 * log(f0 / 60) / log(400 / 60))``,
  clipped, of the syllable's mean log-F0: 32 levels from 60 to 400 Hz, about a semitone apart.

``frame_rate`` is **nominal**: 4 tokens/s (a typical English syllable rate), so ``bitrate`` is
nominal too; ``Tokens.bitrate`` measures the real rate (tokens × Σ log2 sizes / seconds). The
token times are implied by the durations (each token starts where the previous ended), so nothing
else is stored. Names: ``syllables`` (= ``syllables:k1024``), ``syllables:kK`` for other fitted K.

The centroids ship in ``speechtok/assets/syllables/`` (TRAINING.md says how they were made), and
so does the decoder (``decoder.py``: syllable codes + a speaker -> ``speechtok-fast`` frame
parameters -> 16 kHz audio), so ``decode`` works; ``decode(tokens, speaker=...)`` picks a voice.
"""

from __future__ import annotations

import json
import math
import re
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from ..errors import SpeechtokError
from ..tokenizers.base import Tokenizer
from .codes import ASSET_DIR, DUR_LEVELS, F0_LEVELS, decoder_paths, duration_code, duration_value, pitch_code
from .codes import DUR_MAX, DUR_MIN, F0_HI, F0_LO, pitch_value  # noqa: F401 (re-exported: were defined here)
from .segment import SAMPLE_RATE, SegmenterConfig, segment

DEFAULT_K = 1024
NOMINAL_RATE = 4.0
VOICED_SHARE = 0.2
MIN_PAUSE = 0.02  # silence shorter than this at the edges is added to the nearest syllable
MAX_TOKEN = 1.0  # a longer pause is split into tokens of at most this


def syllable_f0(wav: np.ndarray, segments) -> np.ndarray:
    """Mean F0 (Hz, geometric) of each ``(start, end)``, 0 where under 20% of its frames are voiced."""
    from ..codec.sourcefilter.analysis import track_f0

    if not len(segments):
        return np.zeros(0)
    f0, t = track_f0(np.asarray(wav, np.float64), SAMPLE_RATE, 50.0, 500.0, 0.4)
    out = np.zeros(len(segments))
    for i, (a, b) in enumerate(segments):
        sel = f0[(t >= a) & (t < b)]
        v = sel[sel > 0]
        if len(sel) and len(v) >= max(1, VOICED_SHARE * len(sel)):
            out[i] = float(np.exp(np.log(v).mean()))
    return out


# ---- content features -------------------------------------------------------------------
@lru_cache(maxsize=8)
def _phone_model(folder: Path | None = None):
    from ..teachers.phone_ctc import PhoneCTC

    return PhoneCTC.load(folder)


ENSEMBLE_FILE = "ensemble.json"


def teacher_members(folder: Path) -> list[Path]:
    """The PhoneCTC folders behind a teacher folder: itself, or for an ensemble (a folder with
    ``ensemble.json``: ``{"members": [folder, ...]}``, paths relative to it) its members. Raises a
    ``SpeechtokError`` naming the folder when a weights file is missing."""
    folder = Path(folder)
    spec = folder / ENSEMBLE_FILE
    if spec.exists():
        try:
            members = [(folder / m).resolve() for m in json.loads(spec.read_text())["members"]]
        except (ValueError, KeyError, TypeError) as e:
            raise SpeechtokError(f"{spec}: not an ensemble spec ({{\"members\": [folder, ...]}}): {e}") from e
        if not members:
            raise SpeechtokError(f"{spec}: an ensemble needs at least one member")
    else:
        members = [folder]
    for m in members:
        if not (m / "model.safetensors").exists():
            raise SpeechtokError(f"{m / 'model.safetensors'}: missing (a PhoneCTC teacher{' of ' + str(spec) if spec.exists() else ''})")
    return members


def teacher_digest(folder: Path) -> str:
    """A short id of a teacher folder's weights (an ensemble's: of its members' weights, in order)."""
    import hashlib

    from ..fsutil import file_digest

    digests = [file_digest(m / "model.safetensors") for m in teacher_members(folder)]
    return digests[0] if len(digests) == 1 else hashlib.sha256("+".join(digests).encode()).hexdigest()[:12]


def phone_posteriors(wav: np.ndarray, teacher: Path | None = None) -> np.ndarray:
    """``(ceil(samples / 320), 40)`` PhoneCTC frame-head posteriors (50 Hz) of the shipped teacher
    (or of the one saved in ``teacher``, a folder). An ensemble folder (``teacher_members``) gives
    its members' geometric mean: the mean of their log-posteriors, renormalized."""
    import torch

    x = torch.as_tensor(np.asarray(wav, np.float32))[None]
    members = [None] if teacher is None else teacher_members(teacher)
    with torch.no_grad():
        if len(members) == 1:  # exactly the single teacher's softmax (token caches depend on it)
            return _phone_model(members[0])(x)[1][0].softmax(-1).numpy().astype(np.float32)
        logp = torch.stack([_phone_model(m)(x)[1][0].log_softmax(-1) for m in members]).mean(0)
    return logp.softmax(-1).numpy().astype(np.float32)


def _thirds(frames: np.ndarray, rate: float, segments) -> np.ndarray:
    """``(n, d)`` frames at ``rate`` Hz -> ``(len(segments), 3 d)``: means over each segment's thirds."""
    n = len(frames)
    out = np.zeros((len(segments), 3 * frames.shape[1]), np.float32)
    for i, (a, b) in enumerate(segments):
        fa = min(int(math.floor(a * rate)), n - 1)
        fb = min(max(int(math.ceil(b * rate)), fa + 1), n)
        m = fb - fa
        for t in range(3):
            lo = fa + (t * m) // 3
            hi = max(fa + ((t + 1) * m) // 3, lo + 1)
            out[i, t * frames.shape[1] : (t + 1) * frames.shape[1]] = frames[lo:hi].mean(0)
    return out


def raw_features(wav: np.ndarray, segments) -> np.ndarray:
    """``(len(segments), 237)``: posterior thirds (120) then MFCC thirds (117), unstandardised."""
    from ..tokenizers.mfcc_kmeans import mfcc

    if not len(segments):
        return np.zeros((0, 237), np.float32)
    m = mfcc(wav)
    m = m - m.mean(0)
    return np.concatenate([_thirds(phone_posteriors(wav), 50.0, segments), _thirds(m, 100.0, segments)], axis=1)


BLOCKS = ((0, 120), (120, 237))


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardised features, each block scaled by 1 / sqrt(its dims) (equal total variance)."""
    z = (x - mean) / std
    for a, b in BLOCKS:
        z[:, a:b] /= math.sqrt(b - a)
    return z.astype(np.float32)


# ---- tokens -------------------------------------------------------------------------------
def token_spans(segments, duration: float) -> list[tuple[float, float, bool]]:
    """Syllables and the pauses around them -> ``[(start, end, is_pause)]`` tiling ``[0, duration]``."""
    out: list[tuple[float, float, bool]] = []
    pos = 0.0
    segs = [list(s) for s in segments]
    if segs and segs[0][0] < MIN_PAUSE:
        segs[0][0] = 0.0
    if segs and duration - segs[-1][1] < MIN_PAUSE:
        segs[-1][1] = duration
    for a, b in segs + [[duration, duration]]:
        while a - pos > 1e-9:
            step = min(MAX_TOKEN, a - pos)
            out.append((pos, pos + step, True))
            pos += step
        if b > a:
            out.append((a, b, False))
        pos = max(pos, b)
    return out


def asset_path(k: int) -> Path:
    return ASSET_DIR / f"syllables_k{k}.safetensors"


class SyllableTokenizer(Tokenizer):
    """Three codes per syllable: content (k-means, plus a pause code), duration, pitch.

    Decodes where a trained decoder ships (``decoder.py``; ``can_decode``), in the voice of
    ``speaker`` (None: the decoder's default); ``decode(tokens, speaker=...)`` picks another."""

    version = "1"
    sample_rate = SAMPLE_RATE
    frame_rate = NOMINAL_RATE
    streams = ["content", "duration", "pitch"]

    def __init__(self, k: int = DEFAULT_K, path: str | Path | None = None, config: SegmenterConfig | None = None,
                 speaker: str | None = None):
        from safetensors.numpy import load_file

        from ..fsutil import file_digest

        p = Path(path) if path else asset_path(k)
        self.name = "syllables" if (k == DEFAULT_K and path is None) else f"syllables:k{k}"
        if not p.exists():
            raise SpeechtokError(f"{p}: no fitted centroids for {self.name}; fit them with "
                                 f"`python -m speechtok.syllables fit --data TRAIN.jsonl --k {k}`")
        t = load_file(str(p))
        self.centroids, self.mean, self.std = t["centroids"], t["mean"], t["std"]
        self.k = len(self.centroids)
        self.codebook_sizes = (self.k + 1, DUR_LEVELS, F0_LEVELS + 1)
        self.pause_code = self.k
        self.model_id = file_digest(p)
        self.config = config or SegmenterConfig()
        self.speaker = speaker
        self._decoder = None
        # a decoder is shipped for the shipped centroids only (its codes are theirs)
        self.decoder_key: int | str = self.k
        self.can_decode = path is None and all(p.exists() for p in decoder_paths(self.decoder_key))

    def spans(self, wav: np.ndarray) -> list[tuple[float, float, bool]]:
        return token_spans(segment(wav, self.config), len(wav) / SAMPLE_RATE)

    def _encode(self, wav):
        return self.codes_and_spans(wav)[0]

    def codes_and_spans(self, wav: np.ndarray) -> tuple[np.ndarray, list[tuple[float, float, bool]]]:
        """``[3, tokens]`` codes of a 16 kHz waveform and each token's ``(start, end, is_pause)``."""
        from ..dsp import nearest

        spans = self.spans(wav)
        syl = [(a, b) for a, b, pause in spans if not pause]
        codes = np.zeros((3, len(spans)), np.int64)
        is_syl = np.array([not p for _, _, p in spans], bool)
        codes[1] = duration_code([b - a for a, b, _ in spans])
        codes[0, ~is_syl] = self.pause_code
        if syl:
            codes[0, is_syl] = nearest(standardise(raw_features(wav, syl), self.mean, self.std), self.centroids)
            codes[2, is_syl] = pitch_code(syllable_f0(wav, syl))
        return codes, spans

    # ---- decoding ----------------------------------------------------------------------------
    @cached_property
    def decoder_id(self) -> str | None:
        """The shipped decoder's weights digest (decoders are retrained after their units)."""
        from ..fsutil import file_digest

        return file_digest(decoder_paths(self.decoder_key)[0]) if self.can_decode else None

    @property
    def decoder(self):
        """The trained unit-to-speech decoder (``decoder.Decoder``), loaded on first use."""
        if self._decoder is None:
            from .decoder import Decoder

            d = Decoder.load(self.decoder_key)
            if d.cfg.get("centroids") not in (None, self.model_id):
                raise SpeechtokError(f"the unit decoder of {self.name} was trained on other units "
                                     f"({d.cfg.get('centroids')}, these are {self.model_id}); retrain it")
            self._decoder = d
        return self._decoder

    @property
    def speakers(self) -> list[str]:
        """The voices the decoder speaks (``decode(tokens, speaker=...)``); the first decode uses by default."""
        d = self.decoder
        return [d.default_speaker] + [s for s in d.speakers if s != d.default_speaker]

    def decode(self, tokens, speaker: str | None = None):
        """Tokens -> ``(waveform, 16000)`` in the voice of ``speaker`` (None: this tokenizer's
        ``speaker``, else the decoder's default)."""
        if speaker is None or speaker == self.speaker:
            return super().decode(tokens)
        import copy

        other = copy.copy(self)
        other.speaker = speaker
        return Tokenizer.decode(other, tokens)

    def _check_length(self, tokens) -> None:
        """The durations the codes give against the header's length (the rate is variable)."""
        from ..errors import TokensFileError

        got = float(duration_value(np.asarray(tokens.codes)[1]).sum()) if tokens.num_codebooks > 1 else 0.0
        if abs(got - tokens.duration) > 1.0 + 0.3 * max(got, tokens.duration):
            raise TokensFileError(f"inconsistent header: the duration codes add up to {got:.2f} s, but num_samples "
                                  f"says {tokens.duration:.2f} s ({tokens.num_samples} samples at {tokens.sample_rate} Hz)")

    def _decode(self, codes, num_samples, tokens):
        if np.asarray(codes).shape[0] != 3:
            raise SpeechtokError(f"{self.name} decodes all three codebooks (content, duration, pitch)")
        return self.decoder.decode(np.asarray(codes, np.int64), num_samples, self.speaker)


def token_times(codes: np.ndarray) -> np.ndarray:
    """``[3, n]`` codes -> ``(n, 2)`` approximate start/end seconds, from the duration codes."""
    ends = np.cumsum(duration_value(np.asarray(codes)[1]))
    return np.stack([ends - duration_value(np.asarray(codes)[1]), ends], axis=1)


# ---- fitting --------------------------------------------------------------------------------
def fit(wavs, k: int = DEFAULT_K, out: str | Path | None = None, seed: int = 0, progress: bool = False,
        meta: dict | None = None) -> Path:
    """Segment waveforms (float32 16 kHz), pool each syllable's features, fit k-means; save."""
    from safetensors.numpy import save_file
    from tqdm import tqdm

    from ..dsp import kmeans

    feats = np.concatenate([raw_features(w, segment(w)) for w in tqdm(wavs, desc="features", unit="utt", disable=not progress)])
    mean, std = feats.mean(0), feats.std(0) + 1e-4
    c = kmeans(standardise(feats, mean, std), k, iters=30, seed=seed)
    p = Path(out) if out else asset_path(k)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    save_file({"centroids": c.astype(np.float32), "mean": mean.astype(np.float32), "std": std.astype(np.float32)},
              str(tmp), metadata={"syllables": str(len(feats)), "k": str(k), "seed": str(seed),
                                  **{a: str(b) for a, b in (meta or {}).items()}})
    tmp.chmod(0o644)
    tmp.replace(p)
    return p


# ---- registry family ----------------------------------------------------------------------
_NAME = re.compile(r"^syllables(?::k(?P<k>\d+))?$")


def names() -> list[str]:
    ks = sorted(int(m[1]) for f in ASSET_DIR.glob("syllables_k*.safetensors") if (m := re.match(r"syllables_k(\d+)", f.stem)))
    return (["syllables"] if DEFAULT_K in ks else []) + [f"syllables:k{k}" for k in ks if k != DEFAULT_K]


def resolve(name: str):
    m = _NAME.match(name)
    if not m:
        return None
    return SyllableTokenizer(int(m["k"] or DEFAULT_K))


def describe(name: str) -> dict | None:
    m = _NAME.match(name)
    if not m:
        return None
    k = int(m["k"] or DEFAULT_K)
    if not asset_path(k).exists():
        return None  # load() then says how to fit it
    return {"sample_rate": SAMPLE_RATE, "frame_rate": NOMINAL_RATE, "codebook_sizes": [k + 1, DUR_LEVELS, F0_LEVELS + 1]}
