"""Token language models: train, score and sample an LM over any tokenizer's codes, acoustic BPE,
and measures of how well an LM can model a tokenizer (``speechtok lm ...``; docs/lm.md)."""

from .bpe import AcousticBPE
from .config import LMRunConfig, load_lm_config, lm_config_from_dict
from .layout import Layout
from .speech_lm import SpeechLM

__all__ = ["AcousticBPE", "Layout", "LMRunConfig", "SpeechLM", "load_lm_config", "lm_config_from_dict"]
