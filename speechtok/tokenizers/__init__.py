from .base import Tokenizer
from .registry import available, load, register

__all__ = ["Tokenizer", "available", "load", "register"]
