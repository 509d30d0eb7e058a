"""``rows.jsonl``: the benchmark's only source of truth, appended one row at a time.

Row: ``{tokenizer, tokenizer_version, utt, metric, value, evaluator, evaluator_version,
resampled, error}``; ``value`` is None exactly when ``error`` holds the message.
A run killed mid-write leaves at most one partial last line, which is cut off on reopening.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path

FIELDS = ("tokenizer", "tokenizer_version", "utt", "metric", "value", "evaluator", "evaluator_version",
          "resampled", "error")
ORIGINAL = "original"  # pseudo-tokenizer for metrics scored on the unprocessed audio


def make_row(tokenizer: str, version: str, utt: str, metric: str, value=None, *, evaluator: str,
             evaluator_version: str, resampled: str | None = None, error=None) -> dict:
    if isinstance(value, BaseException):
        value, error = None, value
    if error is None and (value is None or not math.isfinite(float(value))):
        error = f"non-finite value {value!r}"
        value = None
    if error is not None:
        value = None
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return {"tokenizer": tokenizer, "tokenizer_version": version, "utt": utt, "metric": metric,
            "value": None if value is None else float(value), "evaluator": evaluator,
            "evaluator_version": evaluator_version, "resampled": resampled, "error": error}


def read_rows(path: str | os.PathLike) -> list[dict]:
    """All complete rows of ``path`` (a missing file has none; a torn last line is ignored)."""
    p = Path(path)
    if not p.exists():
        return []
    rows = []
    with open(p, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # torn write of an interrupted run
            if line.strip():
                rows.append(json.loads(line))
    return rows


def latest(rows: list[dict]) -> list[dict]:
    """One row per (tokenizer, utt, metric): the last written (a retried error is replaced)."""
    out: dict[tuple, dict] = {}
    for r in rows:
        out[(r["tokenizer"], r["utt"], r["metric"])] = r
    return list(out.values())


class RowLog:
    """Append-only writer that knows which (tokenizer, utt, metric) rows exist."""

    def __init__(self, path: str | os.PathLike, retry_errors: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self.rows = read_rows(self.path)
        self.done = {(r["tokenizer"], r["utt"], r["metric"]) for r in self.rows
                     if not (retry_errors and r["error"] is not None)}
        self._f = open(self.path, "a", encoding="utf-8")

    def _repair(self) -> None:
        """Cut a torn last line so that appending starts on a fresh line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        data = self.path.read_bytes()
        if not data.endswith(b"\n"):
            with open(self.path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    def has(self, tokenizer: str, utt: str, metric: str) -> bool:
        return (tokenizer, utt, metric) in self.done

    def write(self, rows: list[dict]) -> None:
        for r in rows:
            self._f.write(json.dumps(r, ensure_ascii=False) + "\n")
            self.done.add((r["tokenizer"], r["utt"], r["metric"]))
            self.rows.append(r)
        self._f.flush()

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- where a bench run keeps each tokenizer's decoded audio ----------------------------------------
def safe_name(s: str) -> str:
    """A file name for an utterance id or tokenizer name: unsafe characters become '_', and a short
    hash keeps two ids that differ only in those characters apart."""
    clean = re.sub(r"[^A-Za-z0-9._@=+-]", "_", s)
    if clean != s:
        clean += "-" + hashlib.sha1(s.encode()).hexdigest()[:8]
    return clean


def cache_dir(out: Path, name: str, version: str) -> Path:
    return Path(out) / "cache" / safe_name(f"{name}@{version}")
