"""`speechtok lm say`: an LM trained with text (``data.text``) as a voice — the autoregressive
alternative to the non-autoregressive `speechtok tts` voices.

The LM reads a sentence's phones (the same front end as `speechtok tts`), then generates the
tokenizer's tokens frame by frame until it chooses END; the tokenizer decodes them. Text longer
than one sentence is spoken sentence by sentence (each must fit the LM's trained context).
Greedy decoding can run speculatively (``draft``: the LM's MTP heads, an n-gram for single-stream
layouts, or a smaller LM) with output identical to plain greedy decoding.

``LMVoice`` offers what ``tts.Voice`` offers the benchmark (``say``, ``stream``, ``voices``,
``languages``, ``sample_rate``, ``tokenizer``), so `speechtok tts bench --model RUN` measures both
designs with the same code on the same sentences.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np

from ..tts.frontend import TextError, check_characters, normalize_text
from .speech_lm import SpeechLM
from .text import TextPrefix


def is_text_lm(folder: str | Path) -> bool:
    """Whether ``folder`` is an LM run folder trained with text."""
    p = Path(folder)
    if not (p / "model.safetensors").exists() or not (p / "config.yaml").exists():
        return False
    import yaml

    cfg = yaml.safe_load((p / "config.yaml").read_text()) or {}
    return bool((cfg.get("vocab") or {}).get("phones"))


class LMVoice:
    def __init__(self, lm: SpeechLM, speaker: str | None = None, temperature: float = 0.0, top_k: int = 0,
                 max_seconds: float = 12.0, draft=None, draft_k: int = 4, seed: int = 0):
        import speechtok

        self.lm, self.text = lm, TextPrefix(lm.cfg.vocab)
        self.tokenizer = speechtok.load(lm.tokenizer)
        self.name = lm.cfg.name
        self.sample_rate = self.tokenizer.sample_rate
        self.voices = self.text.speakers or [speaker or lm.cfg.name]
        if speaker is not None and self.text.speakers and speaker not in self.voices:
            raise TextError(f"unknown voice {speaker!r}: this LM speaks {', '.join(self.voices)}")
        self.speaker = speaker or self.voices[0]
        self.languages = {v: self.text.languages for v in self.voices}
        self.temperature, self.top_k, self.max_seconds, self.seed = temperature, top_k, max_seconds, seed
        self.draft, self.draft_k = draft, draft_k
        self.last_stats: dict = {}

    @classmethod
    def load(cls, run_dir: str | Path, **kw) -> "LMVoice":
        return cls(SpeechLM.load(run_dir), **kw)

    def codes(self, sentence: str, language: str | None = None, voice: str | None = None) -> np.ndarray:
        """One sentence -> codes ``[K, frames]`` (normalized, phonemized, generated until END)."""
        ids = self.text.ids(sentence, language, (voice or self.speaker) if self.text.speakers else None)
        frames = max(1, int(round(self.max_seconds * self.lm.frame_rate)))
        if self.draft is not None:
            from .speculative import speculative_generate

            codes, self.last_stats = speculative_generate(self.lm, None, frames, self.draft, k=self.draft_k, text=ids)
            return codes
        codes = self.lm.say_codes(ids, frames, self.temperature, self.top_k, self.seed)
        self.last_stats = {"steps": self.lm.last_steps, "forwards": self.lm.last_steps}
        return codes

    def decode(self, codes: np.ndarray) -> np.ndarray:
        from ..tokens import Tokens

        if self.lm.layout.skip:
            raise ValueError("an LM that skips codebooks (data.skip_codebooks) cannot be decoded to audio on its own")
        tok = self.tokenizer
        sizes = tok.codebook_sizes[: codes.shape[0]]
        n = int(round(codes.shape[1] / self.lm.frame_rate * tok.sample_rate))
        tokens = Tokens(codes, tok.name, tok.version, self.lm.frame_rate, sizes, n, tok.sample_rate, model_id=tok.model_id)
        wav, _ = tok.decode(tokens)
        return np.asarray(wav, np.float32)

    def sentences(self, text: str, language: str | None = None) -> list[str]:
        if not isinstance(text, str) or not text.strip():
            raise TextError("text is empty: give at least one word")
        check_characters(text)
        text = normalize_text(text, language or self.text.languages[0])
        out = [s for s in re.split(r"(?<=[.!?;:])\s+", text.strip()) if re.search(r"\w", s)]
        if not out:
            raise TextError(f"text {text[:60]!r} has no words to speak")
        return out

    def stream(self, text: str, voice: str | None = None, language: str | None = None) -> Iterator[np.ndarray]:
        """Audio sentence by sentence, in ``voice`` (one of ``voices``; default the LM's first)."""
        if voice is not None and voice not in self.voices:
            raise TextError(f"unknown voice {voice!r}: this LM speaks {', '.join(self.voices)}")
        for s in self.sentences(text, language):
            yield self.decode(self.codes(s, language, voice))

    def say(self, text: str, voice: str | None = None, language: str | None = None) -> np.ndarray:
        return np.concatenate(list(self.stream(text, voice, language)))
