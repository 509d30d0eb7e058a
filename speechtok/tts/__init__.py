"""Text to speech on speechtok's tokens: ``speechtok.tts.load("speechtok-tts-en").say("Hello.")``.

A phone front end (``frontend``: normalization + espeak-ng), a non-autoregressive acoustic model
whose durations are learned with monotonic alignment search (``model``, ``align``), and the
source-filter codec, whose tokens the voice speaks through (``voice``). ``speechtok tts train``
trains a voice from any transcribed manifest (``train``); ``speechtok tts bench`` measures it.
"""

from .frontend import TextError, normalize_text, phonemize
from .voice import SHIPPED, Voice, load

__all__ = ["load", "Voice", "SHIPPED", "TextError", "phonemize", "normalize_text"]
