"""Files speechtok writes: atomic writes (a killed job or a full disk never leaves a half-written
output under its final name), output folders it may write into, ids that must stay inside them,
content digests and the cache folder."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

from .errors import OutputError

#: written into every output folder a command creates; names the command that owns the folder
OWNER_FILE = ".speechtok.json"
#: OS errors after which no further output can be written: a command stops at the first (one
#: line, exit 2) instead of failing every remaining file one by one
STOP_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object], suffix: str = "", fsync: bool = False) -> Path:
    """Call ``write(tmp_path)`` on a temporary name beside ``path``, then rename it into place.

    ``suffix`` keeps an extension on the temporary name for writers that infer the format from it
    (e.g. ``.png``, ``.wav``); ``fsync`` flushes the data to disk before the rename (shards)."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}{suffix}")
    try:  # create the temporary file here, so an unwritable place is one clear error naming `path`
        p.parent.mkdir(parents=True, exist_ok=True)
        open(tmp, "wb").close()
        mode = tmp.stat().st_mode & 0o777  # 0666 less the umask, like any file the user creates
    except OSError as e:
        raise _with_errno(OutputError(f"{p}: cannot write ({e.strerror or e})"), e) from None
    try:
        write(tmp)
        os.chmod(tmp, mode)  # some writers (safetensors) create their file 0600
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as e:
        if e.errno in STOP_ERRNOS:  # name the file the user asked for, not our temporary one
            raise OSError(e.errno, e.strerror, str(p)) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


def _with_errno(err: OutputError, cause: OSError) -> OutputError:
    """``err`` with the errno of ``cause``, so callers can tell a full disk from a bad path."""
    err.errno = cause.errno
    return err


def file_digest(path: str | os.PathLike, length: int = 12) -> str:
    """The first ``length`` hex digits of the file's SHA-256: a short id for a weights file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def inside(out: str | os.PathLike, rel: str, suffix: str = "") -> Path:
    """``out/rel<suffix>``, refusing a ``rel`` (an utterance id: data, not code) that is absolute,
    climbs out with ``..`` or is empty: ids never choose where outside ``out`` a file goes."""
    parts = Path(rel).parts
    if not rel or Path(rel).is_absolute() or ".." in parts or rel.startswith("~") or "\x00" in rel:
        raise OutputError(f"id {rel!r} would write outside {out}; ids must be relative paths without '..'")
    return Path(out) / f"{rel}{suffix}"


def claim_output_dir(out: str | os.PathLike, command: str, legacy_markers: tuple[str, ...] = ()) -> Path:
    """Make sure ``out`` is a folder this ``command`` may write into, creating it if needed.

    Accepted: a folder that does not exist yet, an empty one, or one this command made before (its
    ``OWNER_FILE``, or for folders from older versions one of ``legacy_markers``). Refused with an
    OutputError naming the reason: a file, an unwritable place, a folder of someone else's files,
    or one another speechtok command owns. Never touches a refused folder."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{p}: exists and is not a folder; --out must name a folder")
    if p.is_dir():
        owner = p / OWNER_FILE
        if owner.is_file():
            try:
                made_by = json.loads(owner.read_text()).get("command")
            except (OSError, ValueError, AttributeError):
                made_by = None
            if made_by != command:
                raise OutputError(
                    f"{p}: holds the output of `speechtok {made_by or '?'}`, not of `speechtok {command}`; choose another --out"
                )
        else:
            try:
                entries = sorted(e.name for e in p.iterdir())
            except OSError as e:
                raise OutputError(f"{p}: cannot read folder ({e.strerror or e})") from None
            if entries and not any((p / m).exists() for m in legacy_markers):
                shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
                raise OutputError(
                    f"{p}: folder exists and holds files not written by `speechtok {command}` ({shown}); "
                    f"choose a new or empty folder for --out"
                )
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{p}: cannot create folder ({e.strerror or e})") from None
    if not (p / OWNER_FILE).is_file():
        write_atomic(p / OWNER_FILE, lambda tmp: tmp.write_text(json.dumps({"command": command}) + "\n"))
    return p


def writable_dir(out: str | os.PathLike) -> Path:
    """Create ``out`` if needed and check that files can be written in it (for commands that add
    files to a user's folder without ever replacing one, e.g. decode, detokenize)."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{p}: exists and is not a folder; --out must name a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{p}: cannot create folder ({e.strerror or e})") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise OutputError(f"{p}: folder is not writable")
    return p


def check_writable_dir(out: str | os.PathLike) -> Path:
    """Check that ``out`` is a writable folder or can be created as one, leaving nothing behind
    (folders made to find out are removed again); OutputError naming it otherwise."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{p}: exists and is not a folder; --out must name a folder")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise OutputError(f"{p}: folder is not writable")
        return p
    missing = []
    for parent in [p, *p.parents]:
        if parent.exists():
            break
        missing.append(parent)
    made = []
    try:
        for folder in reversed(missing):
            folder.mkdir()
            made.append(folder)
    except OSError as e:
        raise OutputError(f"{p}: cannot create folder ({e.strerror or e})") from None
    finally:
        for folder in reversed(made):
            folder.rmdir()
    return p


def check_new_file(out: str | os.PathLike, overwrite: bool = False) -> Path:
    """``out`` is a file a command may write: not a folder, not an existing file (unless
    ``overwrite``), in a folder that exists or can be made and is writable. Creates nothing."""
    p = Path(out)
    if p.is_dir():
        raise OutputError(f"{p}: is a folder; --out must name a file")
    if p.exists() and not overwrite:
        raise OutputError(f"{p}: exists; pass --overwrite to replace it, or choose another --out")
    check_writable_dir(p.parent)
    return p


def cache_dir(*parts: str) -> Path:
    """Where speechtok keeps caches (never beside the user's data): ``$SPEECHTOK_CACHE``, else
    ``$XDG_CACHE_HOME/speechtok``, else ``~/.cache/speechtok``; ``parts`` name a sub-folder."""
    root = os.environ.get("SPEECHTOK_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = str(Path(xdg) / "speechtok")
    return Path(root).expanduser().joinpath(*parts)
