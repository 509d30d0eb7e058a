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


class StreamingUnsupported(SpeechtokError):
    """``Tokenizer.open_stream()`` of a tokenizer that has no streaming mode; says why."""


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


# ---- faults of the machine, not of the input: one line each ------------------------------------
#: optional or core packages -> how to install them (`speechtok` extras where there is one)
INSTALL_HINTS = {
    "transformers": "pip install 'speechtok[lm]'", "tokenizers": "pip install 'speechtok[lm]'",
    "datasets": "pip install 'speechtok[hf]'", "snac": "pip install 'speechtok[hf]'",
    "huggingface_hub": "pip install 'speechtok[hf]'", "ray": "pip install 'speechtok[ray]'",
    "fastapi": "pip install 'speechtok[serve]'", "fastapi_offline": "pip install 'speechtok[serve]'",
    "uvicorn": "pip install 'speechtok[serve]'", "websockets": "pip install 'speechtok[serve]'",
    "pesq": "pip install 'speechtok[bench]'", "pystoi": "pip install 'speechtok[bench]'",
    "jiwer": "pip install 'speechtok[bench]'", "matplotlib": "pip install 'speechtok[bench]'",
    "librosa": "pip install 'speechtok[bench]'", "pocketsphinx": "pip install 'speechtok[bench]'",
    "onnxruntime": "pip install 'speechtok[bench]'", "speechmos": "pip install 'speechtok[bench]'",
    "webrtcvad": "pip install 'speechtok[bench]'",
}
#: import name -> pip name, for speechtok's own dependencies (reinstalling speechtok brings them)
CORE_PACKAGES = {"pyarrow": "pyarrow", "pyworld": "pyworld", "soxr": "soxr", "lightning": "lightning",
                 "soundfile": "soundfile", "safetensors": "safetensors", "yaml": "pyyaml", "scipy": "scipy",
                 "vector_quantize_pytorch": "vector-quantize-pytorch", "tensorboard": "tensorboard"}


def install_hint(module: str | None) -> str:
    """How to install the package that provides ``module`` (e.g. ``transformers.models``)."""
    top = (module or "").split(".")[0]
    if top in INSTALL_HINTS:
        return INSTALL_HINTS[top]
    if top in CORE_PACKAGES:
        return f"pip install {CORE_PACKAGES[top]} (a dependency of speechtok; `make venv` installs it)"
    return f"pip install {top}" if top else "reinstall speechtok (`make venv`)"


_OS_REASONS = {
    "ENOSPC": "no space left on device (free some space and rerun the same command: finished work is kept)",
    "EDQUOT": "disk quota exceeded (free some space and rerun the same command: finished work is kept)",
    "EROFS": "read-only file system",
    "EACCES": "permission denied",
    "EPERM": "operation not permitted",
    "EFBIG": "file too large for this file system",
    "EMFILE": "too many open files (raise `ulimit -n`)",
}


def fault_message(exc: BaseException) -> str | None:
    """One line for a fault of the machine rather than of the input: an OS error (no space,
    read-only, permission, a full device...), memory or recursion limits, a missing package.
    None for anything else (a bug: its traceback is wanted)."""
    import errno

    if isinstance(exc, ImportError) and not isinstance(exc, SpeechtokError):
        name = getattr(exc, "name", None)
        what = name.split(".")[0] if name else str(exc)
        return f"the package {what} is not installed: {install_hint(name)}" if name else f"cannot import: {exc}"
    if isinstance(exc, MemoryError):
        return "out of memory (the input is too large for this machine, or its header claims an absurd size)"
    if isinstance(exc, RecursionError):
        return "input nested too deeply (e.g. JSON with thousands of levels); refused"
    if isinstance(exc, OSError):
        code = errno.errorcode.get(exc.errno or 0, "")
        reason = _OS_REASONS.get(code) or exc.strerror or str(exc) or type(exc).__name__
        where = exc.filename if exc.filename is not None else None
        return f"{where}: {reason}" if where else reason
    return None
