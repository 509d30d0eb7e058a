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


class OutputError(SpeechtokError, OSError):
    """An output path that cannot be used: unwritable, a file where a folder is needed, a folder
    holding someone else's files, or a name that would write outside the output folder."""


class UsageError(SpeechtokError, TypeError):
    """The Python API was called with the wrong kind of argument (e.g. ``decode(ndarray)``)."""


class SpeechtokWarning(UserWarning):
    """Something the user should know that does not stop the work (e.g. a truncated WAV file, a
    token file too old to carry a model id). The CLI prints each as one line on stderr."""


def one_line_warnings(prefix: str) -> None:
    """From now on, print speechtok's own warnings as one stderr line each, ``PREFIX: warning:
    MESSAGE`` (the message names the file), not Python's two-line form with our source line in
    it; other warnings are shown as before. For the CLI and speechtok's worker processes."""
    import sys
    import warnings

    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, SpeechtokWarning):
            print(f"{prefix}: warning: {message}", file=sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)

    warnings.showwarning = show
