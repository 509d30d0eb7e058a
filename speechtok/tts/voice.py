"""A trained voice: text -> phones -> frame parameters -> the codec's tokens -> speech."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..errors import SpeechtokError, UnknownTokenizerError
from .config import load_tts_config
from .frontend import PhoneSet, TextError, phonemize_with

#: shipped voices: name -> folder under speechtok/assets/tts
SHIPPED = {"speechtok-tts-en": "en-allison", "speechtok-tts-fr": "fr-june"}
ASSETS = Path(__file__).resolve().parent.parent / "assets" / "tts"


def voice_folder(name: str | Path) -> Path:
    p = Path(str(name)).expanduser()
    if p.is_dir():
        return p
    if str(name) in SHIPPED:
        return ASSETS / SHIPPED[str(name)]
    raise UnknownTokenizerError(f"no TTS voice {str(name)!r}: give a trained voice folder or one of {', '.join(SHIPPED)}")


class Voice:
    """``Voice.load(name_or_folder).say(text)`` -> float32 waveform at ``sample_rate``."""

    def __init__(self, folder: Path, weights: Path | None = None):
        import speechtok

        from .model import build_model, load_weights

        self.folder = folder
        # a shipped voice's config is checked by the tests, not again on every load (build_config)
        shipped = folder.resolve() in {(ASSETS / f).resolve() for f in SHIPPED.values()}
        self.cfg = load_tts_config(folder / "config.yaml", trusted=shipped)
        lr = self.cfg.learned
        if not lr.get("phones"):
            raise SpeechtokError(f"{folder}: config.yaml has no learned phone set: not a trained voice")
        self.phone_set = PhoneSet(lr["phones"])
        self.voices: list[str] = list(lr["voices"])
        self.languages: dict[str, list[str]] = dict(lr["languages"])
        self.mean = torch.tensor(lr["mean"])
        self.std = torch.tensor(lr["std"])
        self.model = build_model(self.cfg)
        load_weights(self.model, weights or folder / "model.safetensors")
        self.model.eval()
        self.tokenizer = speechtok.load(self.cfg.codec)
        self.codec = getattr(self.tokenizer, "codec", None)
        self.target = self.cfg.target
        self.sample_rate = int(self.tokenizer.sample_rate)
        self.frame_rate = float(self.tokenizer.frame_rate)
        self.name = self.cfg.name

    @classmethod
    def load(cls, name: str | Path = "speechtok-tts-en", weights: str | Path | None = None) -> "Voice":
        folder = voice_folder(name)
        if not (folder / "config.yaml").is_file() or not (folder / "model.safetensors").is_file():
            raise SpeechtokError(f"{folder}: not a voice folder (needs config.yaml and model.safetensors)")
        return cls(folder, Path(weights) if weights else None)

    # ---- text -> parameters --------------------------------------------------------------------
    def _voice(self, voice: str | None) -> tuple[int, str]:
        v = voice or self.voices[0]
        if v not in self.voices:
            raise TextError(f"unknown voice {v!r}: this model speaks {', '.join(self.voices)}")
        return self.voices.index(v), self.languages.get(v, ["en"])[0]

    def phones(self, text: str, voice: str | None = None, language: str | None = None) -> list[str]:
        _, lang = self._voice(voice)
        return phonemize_with(self.cfg.learned.get("frontend", "espeak"), text, language or lang)

    def frames(self, text: str, voice: str | None = None, language: str | None = None, pace: float = 1.0):
        """Text -> (codec Frames, phone durations in frames, phones)."""
        if not 0.25 <= pace <= 4:
            raise TextError(f"pace must be between 0.25 and 4, got {pace}")
        spk, _ = self._voice(voice)
        ph = self.phones(text, voice, language)
        ids = torch.tensor([self.phone_set.ids(ph, "text")])
        if self.target == "tokens":
            y, _, dur = self.model.infer(ids, torch.tensor([spk]), pace, min_frames=0, use_pitch=False)
            codes, k0 = [], 0
            for V in self.cfg.learned["codebook_sizes"]:
                codes.append(y[0, :, k0 : k0 + V].argmax(-1))
                k0 += V
            return torch.stack(codes).numpy(), dur[0].numpy(), ph
        y, _, dur = self.model.infer(ids, torch.tensor([spk]), pace)
        y = y[0] * self.std + self.mean
        return self._to_frames(y), dur[0].numpy(), ph

    def _to_frames(self, y: torch.Tensor):
        feats = y[:, :-2].float()
        v = y[:, -1] > 0.5  # de-standardized voicing (0/1 scale)
        f0 = np.where(v.numpy(), np.exp(y[:, -2].numpy()), 0.0).astype(np.float32)
        return self.codec.unfeatures(f0, feats)

    # ---- parameters -> tokens -> audio -----------------------------------------------------------
    def tokens(self, text: str, voice: str | None = None, language: str | None = None, pace: float = 1.0):
        """Text -> the codec's ``Tokens`` (what an LM or a file would carry)."""
        fr, _, _ = self.frames(text, voice, language, pace)
        return self._tokens(fr)

    def _tokens(self, fr):
        from ..codec.sourcefilter.tokenizer import ENVELOPE_MEAN

        c, tok = self.codec, self.tokenizer
        if self.target == "tokens":  # fr: the predicted codes (K, T); normalized codecs decode with their global mean
            n = int(round(fr.shape[1] * self.sample_rate / self.frame_rate))
            return tok._make_tokens(fr, n, self.sample_rate)
        stages = self.cfg.stages or getattr(tok, "stages", None)
        extra, mean = {}, None
        if c.normalized:
            mean = c.quantize_mean(c.features(fr))
            extra[ENVELOPE_MEAN] = mean.tolist()
        codes = c.quantize(fr, stages, None, None, mean)
        n = len(fr) * c.hop
        return tok._make_tokens(codes, n, self.sample_rate, extra or None)

    def say(self, text: str, voice: str | None = None, language: str | None = None, pace: float = 1.0,
            through_tokens: bool = True) -> np.ndarray:
        """Text -> waveform (float32, ``sample_rate``). ``through_tokens``: quantize to the codec's
        tokens and decode them (the default: what the tokens can carry); False renders the
        predicted parameters directly."""
        fr, _, _ = self.frames(text, voice, language, pace)
        if through_tokens or self.target == "tokens":
            wav, _ = self.tokenizer.decode(self._tokens(fr))
            return np.asarray(wav, np.float32)
        return self.codec.render(fr).astype(np.float32)

    def stream(self, text: str, voice: str | None = None, language: str | None = None, pace: float = 1.0) -> Iterator[np.ndarray]:
        """Audio sentence by sentence (the first sentence's audio comes before the rest is computed)."""
        from .frontend import check_characters, normalize_text

        if not isinstance(text, str) or not text.strip():
            raise TextError("text is empty: give at least one word")
        check_characters(text)
        _, lang = self._voice(voice)
        text = normalize_text(text, language or lang)  # first: "Dr. Smith" is one sentence
        sentences = [s for s in re.split(r"(?<=[.!?;:])\s+", text.strip()) if re.search(r"\w", s)]
        if not sentences:
            raise TextError(f"text {text[:60]!r} has no words to speak")
        for s in sentences:
            yield self.say(s, voice, language, pace)

    def timing(self, text: str, voice: str | None = None) -> dict:
        """Seconds to the first audio (first sentence) and for the whole text, and the audio length."""
        t0 = time.perf_counter()
        first, total, n = None, 0.0, 0
        for chunk in self.stream(text, voice):
            if first is None:
                first = time.perf_counter() - t0
            n += len(chunk)
        total = time.perf_counter() - t0
        return {"first_audio_s": first, "total_s": total, "audio_s": n / self.sample_rate}


def load(name: str | Path = "speechtok-tts-en", weights: str | Path | None = None) -> Voice:
    """A voice by shipped name (``speechtok-tts-en``, ``speechtok-tts-fr``) or trained folder."""
    return Voice.load(name, weights)
