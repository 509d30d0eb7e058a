"""Teachers: audio -> frame-level targets at a codec's frame rate.

One interface, used by the codec's semantic losses and by the measures::

    teacher.targets(wav, frame_rate, num_frames=None, **context) -> np.ndarray
        wav: float32 (samples,) at 16 kHz
        -> (num_frames,) int64 class ids       when teacher.kind == "classes"  (num_classes)
        -> (num_frames, dim) float32 features  when teacher.kind == "features" (dim)
    teacher.targets_batch(wavs (batch, samples) torch, frame_rate, num_frames=None, contexts=None)
        -> torch (batch, num_frames) int64 or (batch, num_frames, dim) float32, no gradient

Frames follow ``phones``: frame i covers samples ``[i*hop, (i+1)*hop)``, hop = 16000 /
frame_rate, and ``num_frames`` defaults to ``ceil(samples / hop)``; pass the codec's own count
when it differs. Teachers with their own frame rate (HuBERT, WavLM, Whisper: 50 Hz) average
their frames whose centres fall in each target frame (or take the nearest one when none does,
for target rates above theirs).

Context a teacher may need (keyword arguments, or one dict per item in ``contexts``):
``utt_id`` (look up a cached alignment), ``text`` (align or encode it now), ``offset`` (seconds:
the wav is a crop starting there in the aligned utterance).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import MissingDependencyError
from ..data.phones import NUM_PHONES, SAMPLE_RATE, Segment, frame_centres, num_frames_for, segments_from_rows, segments_to_frames


class Teacher(ABC):
    kind: str  # "classes" or "features"
    num_classes: int | None = None
    dim: int | None = None
    name: str = "teacher"

    @abstractmethod
    def targets(self, wav: np.ndarray, frame_rate: float, num_frames: int | None = None, **context) -> np.ndarray:
        """One waveform -> ``(num_frames,)`` ids or ``(num_frames, dim)`` features (module doc)."""

    def targets_batch(self, wavs, frame_rate: float, num_frames: int | None = None, contexts: Sequence[dict] | None = None):
        """``(batch, samples)`` torch (equal lengths, as in a training batch) -> torch targets
        ``(batch, num_frames[, dim])``. The default calls ``targets`` per item; models batch."""
        import torch

        wavs = wavs.detach().float().cpu().numpy() if isinstance(wavs, torch.Tensor) else np.asarray(wavs, np.float32)
        n = num_frames or num_frames_for(wavs.shape[-1], frame_rate)
        contexts = contexts or [{}] * len(wavs)
        return torch.from_numpy(np.stack([self.targets(w, frame_rate, n, **c) for w, c in zip(wavs, contexts)]))


# ---- phones from alignments -----------------------------------------------------------------
class AlignedPhoneTeacher(Teacher):
    """Forced-aligned phone ids (``data.phones.PHONES``, 40 classes with silence = 0); called
    ``PhoneTeacher`` before (``speechtok.semantic.teachers.PhoneTeacher`` still names it).

    Alignments come from a cache file written by ``data.forced_align.align_manifest`` or
    ``data.flite_labels.make_synthetic_set`` (looked up by ``utt_id``), or are made now with pocketsphinx
    when only ``text`` is given (slower: ~0.1 s per second of audio)."""

    kind = "classes"
    num_classes = NUM_PHONES
    name = "phones"

    def __init__(self, alignments: str | Path | Sequence[str | Path] | dict | None = None):
        from ..data.forced_align import read_alignments

        if isinstance(alignments, dict):
            self.rows = alignments
        else:
            paths = [] if alignments is None else [alignments] if isinstance(alignments, (str, Path)) else alignments
            self.rows = {}
            for p in paths:
                self.rows.update(read_alignments(p))
        self._aligner = None

    def segments(self, wav: np.ndarray | None = None, utt_id: str | None = None, text: str | None = None) -> list[Segment]:
        if utt_id is not None and utt_id in self.rows:
            return segments_from_rows(self.rows[utt_id]["phones"])
        if text is None:
            raise KeyError(f"no alignment for utterance {utt_id!r} and no text to align it with")
        if self._aligner is None:
            from ..data.forced_align import Aligner

            self._aligner = Aligner()
        return self._aligner.align(wav, text)[0]

    def targets(self, wav, frame_rate, num_frames=None, utt_id=None, text=None, offset=0.0, **_):
        n = num_frames or num_frames_for(len(wav), frame_rate)
        return segments_to_frames(self.segments(wav, utt_id, text), frame_rate, n, offset)


# ---- Hugging Face models ------------------------------------------------------------------------
def pooling_matrix(src_centres: np.ndarray, frame_rate: float, num_frames: int, offset: float = 0.0) -> np.ndarray:
    """``(num_frames, len(src_centres))`` weights averaging source frames (centres in seconds)
    into target frames; rows sum to 1. A target frame holding no source centre takes the nearest."""
    hop = 1.0 / frame_rate
    which = np.floor((np.asarray(src_centres) - offset) / hop).astype(np.int64)
    w = np.zeros((num_frames, len(src_centres)), np.float32)
    ok = (which >= 0) & (which < num_frames)
    w[which[ok], np.nonzero(ok)[0]] = 1.0
    empty = w.sum(1) == 0
    if empty.any():
        near = np.abs(offset + frame_centres(num_frames, frame_rate)[empty, None] - src_centres[None, :]).argmin(1)
        w[np.nonzero(empty)[0], near] = 1.0
    return w / w.sum(1, keepdims=True)


def _require_transformers():
    try:
        import transformers  # noqa: F401
    except ImportError:
        raise MissingDependencyError("Hugging Face teachers need transformers: pip install 'speechtok[hf]'") from None


class HFTeacher(Teacher):
    """Hidden states of a speech model from transformers: HuBERT / WavLM (``kind="ssl"``) or a
    Whisper encoder (``kind="whisper"``), at layer ``layer`` (0 = after the feature encoder;
    -1 = last), pooled to the target frame rate. No gradient flows (a teacher is frozen).

    ``HFTeacher.from_pretrained("facebook/hubert-base-ls960", layer=9)`` loads from the hub
    (or the local cache); tests pass a model built from a small random config."""

    kind = "features"

    def __init__(self, model, arch: str = "ssl", layer: int = -1, normalize: bool = False, feature_extractor=None, name: str | None = None):
        import torch

        if arch not in ("ssl", "whisper"):
            raise ValueError(f"arch must be 'ssl' or 'whisper', got {arch!r}")
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.arch, self.layer, self.normalize = arch, layer, normalize
        self.dim = int(model.config.d_model if arch == "whisper" else model.config.hidden_size)
        self.name = name or f"{model.config.model_type}:layer{layer}"
        self.feature_extractor = feature_extractor
        if arch == "whisper" and feature_extractor is None:
            from transformers import WhisperFeatureExtractor

            self.feature_extractor = WhisperFeatureExtractor(feature_size=model.config.num_mel_bins)
        self._torch = torch

    @classmethod
    def from_pretrained(cls, name: str, layer: int = -1, **kw) -> "HFTeacher":
        _require_transformers()
        from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, WhisperModel

        config = AutoConfig.from_pretrained(name)
        if config.model_type == "whisper":
            return cls(WhisperModel.from_pretrained(name).get_encoder(), "whisper", layer, name=f"{name}:layer{layer}", **kw)
        fe = AutoFeatureExtractor.from_pretrained(name)
        return cls(AutoModel.from_pretrained(name), "ssl", layer, normalize=bool(getattr(fe, "do_normalize", False)), name=f"{name}:layer{layer}", **kw)

    def frames(self, wavs) -> tuple["torch.Tensor", np.ndarray]:  # noqa: F821
        """``(batch, samples)`` -> (hidden states ``(batch, T, dim)``, their centres in seconds ``(T,)``)."""
        torch = self._torch
        x = torch.as_tensor(np.asarray(wavs, np.float32) if not isinstance(wavs, torch.Tensor) else wavs).float()
        samples = x.shape[-1]
        with torch.no_grad():
            if self.arch == "ssl":
                if self.normalize:
                    x = (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + 1e-7)
                h = self.model(x, output_hidden_states=True).hidden_states[self.layer]
                # conv stack: 400-sample receptive field every 320 samples
                centres = (np.arange(h.shape[1]) * 320 + 200) / SAMPLE_RATE
            else:
                max_s = self.model.config.max_source_positions * 2 * self.feature_extractor.hop_length
                if samples > max_s:
                    raise ValueError(f"Whisper encodes at most {max_s / SAMPLE_RATE:g} s; got {samples / SAMPLE_RATE:g} s")
                feats = self.feature_extractor(list(x.cpu().numpy()), sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features
                h = self.model(feats.to(next(self.model.parameters()).device), output_hidden_states=True).hidden_states[self.layer]
                keep = num_frames_for(samples, 50.0)  # the rest is the 30 s padding
                h = h[:, :keep]
                centres = np.arange(h.shape[1]) * 320 / SAMPLE_RATE
        return h, centres

    def targets_batch(self, wavs, frame_rate, num_frames=None, contexts=None):
        torch = self._torch
        h, centres = self.frames(wavs)
        n = num_frames or num_frames_for(np.shape(wavs)[-1], frame_rate)
        w = torch.from_numpy(pooling_matrix(centres, frame_rate, n)).to(h)
        return torch.einsum("ft,btd->bfd", w, h)

    def targets(self, wav, frame_rate, num_frames=None, **_):
        return self.targets_batch(np.asarray(wav, np.float32)[None], frame_rate, num_frames)[0].cpu().numpy()


class HFTextTeacher(Teacher):
    """DM-Codec-style LM guidance: a BERT-like model's hidden states of the transcript, each
    word's vector (mean of its sub-word tokens) spread over the frames that word spans.

    Word times come from an alignment row (``utt_id`` in ``alignments``, or ``words`` given as
    ``[[word, start, end], ...]``); without them the words are spread evenly over the audio.
    Frames in silence (or outside any word) get zeros. Needs ``text`` or aligned words."""

    kind = "features"

    def __init__(self, model, tokenizer, layer: int = -1, alignments: dict | None = None, name: str | None = None):
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.tokenizer, self.layer, self.rows = tokenizer, layer, alignments or {}
        self.dim = int(model.config.hidden_size)
        self.name = name or f"{model.config.model_type}:layer{layer}"

    @classmethod
    def from_pretrained(cls, name: str = "bert-base-uncased", layer: int = -1, **kw) -> "HFTextTeacher":
        _require_transformers()
        from transformers import AutoModel, AutoTokenizer

        return cls(AutoModel.from_pretrained(name), AutoTokenizer.from_pretrained(name), layer, name=f"{name}:layer{layer}", **kw)

    def word_vectors(self, words: list[str]) -> np.ndarray:
        """``len(words)`` words -> ``(len(words), dim)``: mean hidden state of each word's tokens."""
        import torch

        enc = self.tokenizer(words, is_split_into_words=True, return_tensors="pt", truncation=True)
        with torch.no_grad():
            h = self.model(**enc, output_hidden_states=True).hidden_states[self.layer][0].numpy()
        out = np.zeros((len(words), self.dim), np.float32)
        counts = np.zeros(len(words))
        for t, wi in enumerate(enc.word_ids(0)):
            if wi is not None:
                out[wi] += h[t]
                counts[wi] += 1
        return out / np.maximum(counts, 1)[:, None]

    def targets(self, wav, frame_rate, num_frames=None, utt_id=None, text=None, words=None, offset=0.0, **_):
        n = num_frames or num_frames_for(len(wav), frame_rate)
        if words is None and utt_id in self.rows:
            words = self.rows[utt_id].get("words")
        if words is not None:
            spans = [(w, a, b) for w, a, b in words if not w.startswith("<") and w not in ("</s>", "<s>")]
        elif text:
            from ..data.forced_align import normalize_text

            ws = normalize_text(text)
            dur = len(wav) / SAMPLE_RATE
            spans = [(w, i * dur / len(ws), (i + 1) * dur / len(ws)) for i, w in enumerate(ws)]
        else:
            raise KeyError(f"no word alignment for utterance {utt_id!r} and no text")
        out = np.zeros((n, self.dim), np.float32)
        if not spans:
            return out
        vec = self.word_vectors([w for w, _, _ in spans])
        centres = offset + frame_centres(n, frame_rate)
        for v, (_, a, b) in zip(vec, spans):
            out[(centres >= a) & (centres < b)] = v
        return out


class PhoneCTCTeacher(Teacher):
    """The frozen PhoneCTC encoder (``phone_ctc.py``) as a feature teacher: its 50 Hz states,
    averaged into each target frame. For the LM-SPT loss call ``self.model.encode`` directly:
    it is differentiable w.r.t. the audio."""

    kind = "features"

    def __init__(self, model=None):
        from .phone_ctc import PhoneCTC

        self.model = model if model is not None else PhoneCTC.load()
        self.model.eval().requires_grad_(False)
        self.dim = self.model.dim
        self.name = "phone-ctc"

    def targets_batch(self, wavs, frame_rate, num_frames=None, contexts=None):
        import torch

        x = torch.as_tensor(np.asarray(wavs, np.float32) if not isinstance(wavs, torch.Tensor) else wavs).float()
        with torch.no_grad():
            h = self.model.encode(x)
        centres = (np.arange(h.shape[1]) * 320 + 160) / SAMPLE_RATE
        n = num_frames or num_frames_for(x.shape[-1], frame_rate)
        return torch.einsum("ft,btd->bfd", torch.from_numpy(pooling_matrix(centres, frame_rate, n)), h)

    def targets(self, wav, frame_rate, num_frames=None, **_):
        return self.targets_batch(np.asarray(wav, np.float32)[None], frame_rate, num_frames)[0].numpy()
