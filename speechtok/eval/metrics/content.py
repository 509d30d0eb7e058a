"""Content: word and character error rates of the decoded audio's ASR transcript.

- ``wer``/``cer``: against the reference transcript (the manifest's ``text``);
- ``dwer``/``dcer``: against the ASR transcript of the *original* audio, so the recogniser's own
  errors cancel and only what the tokenizer changed counts.

Text normalisation (both sides, before scoring): Unicode NFKC, lower case, every character that
is not a letter, digit or apostrophe becomes a space, runs of spaces collapse. CER is computed on
the normalised string with spaces kept. An empty reference makes WER undefined (error row).

ASR: ``pocketsphinx`` (offline, ships a US-English model; English only) by default, or Whisper
through ``transformers`` when the user has its weights locally (``whisper:<name-or-folder>``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

from ...errors import MissingDependencyError
from ._deps import require

_NON_WORD = re.compile(r"[^\w']+|_")


def normalize_text(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_NON_WORD.sub(" ", t).split())


def error_rates(reference: str, hypothesis: str) -> tuple[float, float]:
    """``(WER, CER)`` of ``hypothesis`` against ``reference`` after :func:`normalize_text`."""
    jiwer = require("jiwer", "jiwer")
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        raise ValueError("empty reference transcript: WER/CER undefined")
    # jiwer refuses an empty hypothesis string; a recogniser that heard nothing deleted every word
    if not hyp:
        return 1.0, 1.0
    return float(jiwer.wer(ref, hyp)), float(jiwer.cer(ref, hyp))


class PocketSphinxASR:
    """US-English CMU Sphinx recogniser shipped with ``pocketsphinx`` (16 kHz input)."""

    name = "pocketsphinx"
    sample_rate = 16000
    languages = ("en",)

    def __init__(self):
        self._ps = require("pocketsphinx", "pocketsphinx")

    @property
    def version(self) -> str:
        from importlib.metadata import version

        return version("pocketsphinx")

    def transcribe(self, wav: np.ndarray) -> str:
        """``(samples,)`` float32 at 16 kHz -> text."""
        pcm = (np.clip(wav, -1, 1) * 32767).astype("<i2").tobytes()
        # a fresh decoder each time: pocketsphinx adapts (CMN and more) across utterances, which
        # made the same audio transcribe differently depending on what came before (measured)
        d = self._ps.Decoder(loglevel="FATAL")
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr if hyp is not None else ""


class WhisperASR:
    """Whisper via ``transformers``, from weights already on disk (never downloads)."""

    sample_rate = 16000
    languages = None  # multilingual

    def __init__(self, model: str):
        transformers = require("transformers", "transformers")
        try:
            self._pipe = transformers.pipeline(
                "automatic-speech-recognition", model=model, device="cpu",
                model_kwargs={"local_files_only": True},
            )
        except (OSError, ValueError) as e:
            raise MissingDependencyError(
                f"Whisper weights {model!r} are not available locally ({e}); download them once with "
                f"`huggingface-cli download {model}` or pass a folder"
            ) from None
        self.name = f"whisper:{model}"
        self.version = transformers.__version__

    def transcribe(self, wav: np.ndarray) -> str:
        out = self._pipe({"raw": np.asarray(wav, np.float32), "sampling_rate": 16000})
        return out["text"]


@lru_cache(maxsize=2)
def get_asr(spec: str = "pocketsphinx"):
    """The recogniser for ``spec``, built once per process."""
    if spec == "pocketsphinx":
        return PocketSphinxASR()
    if spec.startswith("whisper:"):
        return WhisperASR(spec.split(":", 1)[1])
    raise ValueError(f"unknown ASR {spec!r}: use 'pocketsphinx' or 'whisper:<model name or folder>'")


def is_english(language: str | None) -> bool:
    """Unknown language counts as English (folders of files carry no language)."""
    return language is None or language.lower().split("-")[0].split("_")[0] in ("en", "eng", "english")
