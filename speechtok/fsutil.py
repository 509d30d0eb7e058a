"""Atomic file writes: every file speechtok produces goes through here, so a killed job or a
full disk never leaves a half-written output under its final name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object], suffix: str = "", fsync: bool = False) -> Path:
    """Call ``write(tmp_path)`` on a temporary name beside ``path``, then rename it into place.

    ``suffix`` keeps an extension on the temporary name for writers that infer the format from it
    (e.g. ``.png``, ``.wav``); ``fsync`` flushes the data to disk before the rename (shards)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}{suffix}")
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p
