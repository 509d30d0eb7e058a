"""Phone units from a multi-speaker phoneme recognizer: ``phone-units:hf:<model>``.

``phone-units`` (``phone_units.py``) is only as good as its teacher, and the teachers trained here
heard one real voice: benchmarks/phone_units/per_curve.md shows the lexical target needs a phone
error rate near 0.05 on the test's voices. Phoneme CTC models trained on many speakers (e.g.
``facebook/wav2vec2-lv-60-espeak-cv-ft``, or any ``*ForCTC`` checkpoint whose vocabulary is phones)
are the teachers that get there; this module makes them the ear of the same tokens, for users
whose machines can download one (nothing here is downloaded by the tests or the shipped models).

The CTC model gives frame posteriors at 50 Hz (a wav2vec2-style conv stack: 400-sample receptive
field every 320 samples) that are peaky: a phone is one or two frames of its label among blanks.
Frame labels for the run-length tokens therefore come from the greedy path: each new non-blank
label (a spike) starts a phone that lasts until the next spike; frames quieter than
``SILENCE_DB`` below the utterance's loudest frame are silence, but a quiet stretch shorter than
``MIN_SILENCE`` seconds (a stop closure) stays part of the phone around it. Then the tokens are
made as for ``phone-units``: one token per run, phone code (the model's phone vocabulary in its own
order, special tokens and word delimiters left out; the code after the last phone is the pause),
duration and pitch codes. A phone said twice in a row is one run (its two spikes give one label).

These tokens are encode-only: no decoder is trained on a downloaded model's units.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

from ..data.phones import SAMPLE_RATE
from ..errors import MissingDependencyError, SpeechtokError
from .phone_units import FRAME, PhoneUnitTokenizer
from .segment import _runs as quiet_runs

SILENCE_DB = 35.0  # a frame this far below the loudest is silence
MIN_SILENCE = 0.15  # seconds: shorter quiet stretches belong to the phone around them
HOP = 320  # samples per CTC frame (16 kHz, 20 ms)
RECEPTIVE_FIELD = 400
CHUNK_SECONDS = 20.0  # longer inputs are labelled in chunks of this length ...
CONTEXT_SECONDS = 2.0  # ... each run with this much audio on either side
_NOT_PHONES = {"|", " ", "<s>", "</s>", "<unk>", "<pad>", "[PAD]", "[UNK]", "<blank>", "_"}


def quiet_frames(wav: np.ndarray, frames: int, silence_db: float = SILENCE_DB) -> np.ndarray:
    """``(frames,)`` bool: 20 ms frames more than ``silence_db`` below the loudest one."""
    pad = np.zeros(frames * HOP, np.float32)
    n = min(len(wav), pad.size)
    pad[:n] = wav[:n]
    db = 10 * np.log10(np.mean(pad.reshape(frames, HOP) ** 2, axis=1) + 1e-10)
    return db < (db.max() - silence_db if frames else 0.0)


def ctc_frame_labels(log_probs: np.ndarray, blank: int, label_of: np.ndarray, quiet: np.ndarray,
                     min_silence_frames: int) -> np.ndarray:
    """Greedy-path frame labels of CTC log-posteriors ``(T, V)``: 0 = silence, else
    ``label_of[vocab id]`` (>= 1; 0 marks a vocabulary entry that is not a phone) of the latest
    spike, the phone lasting until the next spike. Silence: the frames before the first spike, and
    ``quiet`` stretches at least ``min_silence_frames`` long (or touching either end), after which
    the frames up to the next spike are silence too (a spike inside the silence starts its phone
    where the silence ends); shorter quiet stretches keep the phone."""
    T = log_probs.shape[0]
    best = log_probs.argmax(1) if T else np.zeros(0, np.int64)
    silent = np.zeros(T, bool)
    for a, b in quiet_runs(np.asarray(quiet[:T], bool)):
        if b - a >= min_silence_frames or a == 0 or b == T:
            silent[a:b] = True
    labels = np.zeros(T, np.int64)
    cur, prev, spiked = 0, blank, False
    for t in range(T):
        b = int(best[t])
        spike = b != blank and b != prev and label_of[b] > 0
        prev = b
        if spike:
            cur = int(label_of[b])  # a new phone starts (after the silence, if inside one)
        if not silent[t]:
            labels[t] = cur
            continue
        spiked = spike or (spiked and t > 0 and silent[t - 1])
        if (t + 1 == T or not silent[t + 1]) and not spiked:
            cur = 0  # the phone before the pause does not go on after it
    return labels


class HFPhoneUnitTokenizer(PhoneUnitTokenizer):
    """``phone-units`` whose teacher is a transformers CTC phoneme model (module docstring).

    ``HFPhoneUnitTokenizer.from_pretrained("facebook/wav2vec2-lv-60-espeak-cv-ft")`` loads from
    the hub or the local cache; tests pass a small model built from a random config."""

    def __init__(self, model, vocab: Sequence[str], blank: int, normalize: bool = True, name: str = "hf"):
        """``vocab``: the model's output labels in id order; ``blank``: the CTC blank id (the
        tokenizer's pad token); ``normalize``: zero-mean unit-variance input (the feature
        extractor's ``do_normalize``)."""
        import torch

        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        if not 0 <= blank < len(vocab):
            raise SpeechtokError(f"{name}: blank id {blank} is outside the vocabulary of {len(vocab)} labels")
        if getattr(model.config, "vocab_size", len(vocab)) != len(vocab):
            raise SpeechtokError(f"{name}: the model has {model.config.vocab_size} outputs but the vocabulary {len(vocab)} labels")
        self.vocab = list(vocab)
        self.blank = int(blank)
        self.phones = [v for i, v in enumerate(self.vocab) if i != blank and v not in _NOT_PHONES]
        if not self.phones:
            raise SpeechtokError(f"{name}: the vocabulary has no phones (only special tokens)")
        index = {v: i + 1 for i, v in enumerate(self.phones)}
        self.label_of = np.array([0 if i == blank else index.get(v, 0) for i, v in enumerate(self.vocab)], np.int64)
        self.normalize = bool(normalize)
        self._torch = torch
        self.name = f"phone-units:hf:{name}"
        self.switch_cost = 0.0
        self._set_phone_count(len(self.phones))
        h = hashlib.sha1(("\n".join(self.vocab) + f"|{blank}|{name}").encode())
        for p in self.model.state_dict().values():  # the weights too: a retrained folder gets new caches
            t = p.detach().cpu()
            h.update((t.float() if t.is_floating_point() else t).contiguous().numpy().tobytes())
        digest = h.hexdigest()[:12]
        self.model_id = f"hf-{digest}"
        self.version = f"1+{self.model_id}"
        self.speaker = None
        self._decoder = None
        self.decoder_key = None
        self.can_decode = False
        self.teacher = name

    @classmethod
    def from_pretrained(cls, name: str) -> "HFPhoneUnitTokenizer":
        """A transformers ``*ForCTC`` phoneme model by hub id or local folder (with its tokenizer's
        ``vocab.json``)."""
        try:
            from transformers import AutoFeatureExtractor, AutoModelForCTC, AutoTokenizer
        except ImportError:
            raise MissingDependencyError("phone-units:hf:... needs transformers: pip install 'speechtok[hf]'") from None
        try:
            # do_phonemize=False: a phoneme tokenizer (Wav2Vec2PhonemeCTCTokenizer) would otherwise
            # need phonemizer + espeak to start, only to turn text into phones, which we never do
            tok = AutoTokenizer.from_pretrained(name, do_phonemize=False)
            fe = AutoFeatureExtractor.from_pretrained(name)
            model = AutoModelForCTC.from_pretrained(name)
        except (OSError, ValueError, ImportError) as e:
            raise SpeechtokError(f"phone-units:hf:{name}: could not load a CTC model and its tokenizer ({e})") from None
        if getattr(fe, "sampling_rate", SAMPLE_RATE) != SAMPLE_RATE:
            raise SpeechtokError(f"phone-units:hf:{name}: the model expects {fe.sampling_rate} Hz audio, not {SAMPLE_RATE}")
        vocab = tok.convert_ids_to_tokens(list(range(model.config.vocab_size)))
        blank = model.config.pad_token_id if model.config.pad_token_id is not None else tok.pad_token_id
        return cls(model, vocab, 0 if blank is None else blank, normalize=bool(getattr(fe, "do_normalize", True)), name=name)

    def log_posteriors(self, wav: np.ndarray) -> np.ndarray:
        """``(ceil(samples / 320), vocab)`` CTC log-posteriors, one row per 20 ms frame: the input
        is zero-padded so that the conv stack (400-sample receptive field every 320 samples) gives
        exactly that many frames. Long inputs go through in chunks of ``CHUNK_SECONDS`` with
        ``CONTEXT_SECONDS`` of audio on each side (attention cost grows with the square of length)."""
        frames = -(-len(wav) // HOP)
        if frames == 0:
            return np.zeros((0, len(self.vocab)), np.float32)
        x = np.asarray(wav, np.float32)
        if self.normalize:  # the feature extractor's zero-mean unit-variance, on the real samples
            x = (x - x.mean()) / (x.std() + 1e-7)
        chunk = int(CHUNK_SECONDS * SAMPLE_RATE) // HOP  # frames
        ctx = int(CONTEXT_SECONDS * SAMPLE_RATE) // HOP
        out = []
        for f0 in range(0, frames, chunk):
            f1 = min(frames, f0 + chunk)
            a, b = max(0, f0 - ctx), min(frames, f1 + ctx)  # frames run with their context
            seg = np.zeros((b - a) * HOP + RECEPTIVE_FIELD - HOP, np.float32)
            piece = x[a * HOP : b * HOP + RECEPTIVE_FIELD - HOP]
            seg[: len(piece)] = piece
            out.append(self._forward(seg)[f0 - a : f1 - a])
        lp = np.concatenate(out)
        if lp.shape[0] != frames:
            raise SpeechtokError(f"{self.name}: the model gave {lp.shape[0]} frames for {frames} 20 ms frames of audio; "
                                 f"it is not a 320-sample-hop (wav2vec2-style) CTC model")
        return lp

    def _forward(self, seg: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.no_grad():
            logits = self.model(torch.from_numpy(seg)[None]).logits[0].float()
        return torch.log_softmax(logits, -1).numpy()

    def frame_labels(self, wav: np.ndarray) -> np.ndarray:
        lp = self.log_posteriors(wav)
        quiet = quiet_frames(wav, lp.shape[0])
        return ctc_frame_labels(lp, self.blank, self.label_of, quiet, int(round(MIN_SILENCE / FRAME)))

    def posteriors(self, wav: np.ndarray) -> np.ndarray:
        return np.exp(self.log_posteriors(wav))

    def _decode(self, codes, num_samples, tokens):
        raise NotImplementedError(f"{self.name} is encode-only: no decoder is trained on a downloaded model's units")


_HF = re.compile(r"^phone-units:hf:(?P<model>.+)$")


# ---- registry family (names() lists nothing: no model ships; any hub id or folder resolves) ----
def names() -> list[str]:
    return []


def resolve(name: str):
    m = _HF.match(name)
    return HFPhoneUnitTokenizer.from_pretrained(m["model"]) if m else None


__all__ = ["HFPhoneUnitTokenizer", "ctc_frame_labels", "quiet_frames"]
