"""Manifests: JSON Lines files with one utterance per line.

Each line is an object with at least ``path`` (absolute, or relative to the manifest's folder)
and usually ``id``; the other fields (duration in seconds, speaker, language, text, split) are
optional. Unknown fields are ignored on reading, so manifests from other tools load too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..audio import AUDIO_EXTENSIONS, is_audio_path
from ..errors import SpeechtokError

MANIFEST_SUFFIXES = (".jsonl", ".json")


class ManifestError(SpeechtokError, ValueError):
    """A manifest that cannot be read: bad JSON, a missing field, a wrong type. Names file and line."""


@dataclass
class Utterance:
    """One audio file and what is known about it. ``path`` is absolute once read from a manifest."""

    id: str
    path: str
    duration: float | None = None
    speaker: str | None = None
    language: str | None = None
    text: str | None = None
    split: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


_FIELDS = ("id", "path", "duration", "speaker", "language", "text", "split")


def _utterance_from_row(row, where: str, base: Path) -> Utterance:
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    path = row.get("path")
    if not isinstance(path, str) or not path:
        raise ManifestError(f"{where}: missing or empty 'path' field")
    full = Path(path).expanduser()
    if not full.is_absolute():
        full = base / full
    uid = row.get("id")
    if uid is None:
        uid = Path(path).with_suffix("").as_posix()
    duration = row.get("duration")
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, (int, float)):
            raise ManifestError(f"{where}: 'duration' must be a number of seconds, got {duration!r}")
        duration = float(duration)
    fields = {k: row.get(k) for k in ("speaker", "language", "text", "split")}
    for key, value in fields.items():
        if value is not None and not isinstance(value, str):
            fields[key] = str(value)
    return Utterance(id=str(uid), path=str(full), duration=duration, **fields)


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read a JSON Lines manifest. Blank lines are skipped; relative paths are resolved against
    the manifest's folder. Raises ManifestError naming the file and line on bad input."""
    p = Path(path)
    if not p.is_file():
        raise ManifestError(f"{p}: no such manifest file")
    base = p.resolve().parent
    out: list[Utterance] = []
    with open(p, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{p}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{where}: bad JSON ({e.msg} at column {e.colno})") from None
            out.append(_utterance_from_row(row, where, base))
    return out


def write_manifest(path: str | os.PathLike, utterances, relative_to: str | os.PathLike | None = None) -> None:
    """Write utterances as JSON Lines, atomically (temporary file + rename).

    Paths are written as given, unless ``relative_to`` is set (usually the manifest's own
    folder): then paths inside that folder are written relative to it, so the folder can move.
    """
    from ..fsutil import write_atomic

    root = Path(relative_to).resolve() if relative_to is not None else None
    lines = []
    for u in utterances:
        row = u.to_dict() if isinstance(u, Utterance) else dict(u)
        if root is not None:
            try:
                row["path"] = Path(row["path"]).resolve().relative_to(root).as_posix()
            except ValueError:
                pass  # outside the folder: keep it absolute
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    write_atomic(path, lambda tmp: tmp.write_text("".join(lines), encoding="utf-8"))


def list_inputs(source: str | os.PathLike) -> list[Utterance]:
    """What to process, from a manifest (.jsonl/.json), a folder, or one audio file.

    Raises ManifestError when there is nothing to process (an empty folder or manifest).
    A folder gives every audio file under it (recursively, by extension), sorted, with
    id = its path relative to the folder without the suffix (``sub/a.wav`` -> ``sub/a``).
    """
    p = Path(source)
    if not p.exists():
        raise ManifestError(f"{p}: no such file or folder")
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and is_audio_path(f))
        if not files:
            raise ManifestError(f"{p}: folder has no audio files ({', '.join(AUDIO_EXTENSIONS)})")
        return [Utterance(id=f.relative_to(p).with_suffix("").as_posix(), path=str(f.resolve())) for f in files]
    if p.suffix.lower() in MANIFEST_SUFFIXES:
        utts = read_manifest(p)
        if not utts:  # like a folder with no audio: nothing to do is a mistake, not a success
            raise ManifestError(f"{p}: manifest has no utterances (no non-blank lines)")
        return utts
    if is_audio_path(p):
        return [Utterance(id=p.stem, path=str(p.resolve()))]
    raise ManifestError(f"{p}: neither a manifest (.jsonl) nor an audio file nor a folder")

