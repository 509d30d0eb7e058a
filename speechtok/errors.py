"""Exceptions speechtok raises on bad input. Each message names the file (when there is one)."""


class SpeechtokError(Exception):
    """Base class: everything speechtok raises on purpose."""


class AudioError(SpeechtokError, ValueError):
    """Audio that cannot be read or used (missing, empty, not audio, NaN, absurd rate...)."""


class AudioTooLongError(AudioError):
    """Audio longer than a limit the caller set (e.g. the upload limit of `speechtok serve`)."""


class TokensFileError(SpeechtokError, ValueError):
    """A token file that is foreign, truncated, corrupt, of an unknown version or inconsistent."""


class UnknownTokenizerError(SpeechtokError, KeyError):
    """`speechtok.load` was given a name it does not know."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(SpeechtokError, ImportError):
    """An optional package or system library is needed; the message says how to install it."""
