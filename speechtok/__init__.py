"""speechtok: speech to compact discrete tokens and back.

    >>> import speechtok
    >>> tok = speechtok.load("opus@6kbps")
    >>> tokens = tok.encode(audio, sample_rate)
    >>> audio2, sr = tok.decode(tokens)
"""

from .errors import AudioError, SpeechtokError, TokensFileError, UnknownTokenizerError
from .tokenizers import Tokenizer, available, load, register
from .tokens import Tokens
from .version import __version__

__all__ = [
    "AudioError",
    "SpeechtokError",
    "Tokenizer",
    "Tokens",
    "TokensFileError",
    "UnknownTokenizerError",
    "available",
    "load",
    "register",
]
