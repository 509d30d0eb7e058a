"""Token shards on disk: the Parquet row schema, atomic commit, validation, index and dataset card.

One row per utterance. ``codes`` is ``list<list<int32>>`` shaped ``[num_codebooks][frames]``
(``datasets`` reads it as ``Sequence(Sequence(int32))``; ``np.array(row["codes"])`` gives the
``[codebook, frame]`` array back). Everything needed to rebuild the exact ``Tokens`` value is in
the row (``codebook_sizes``, ``num_samples``, ``sample_rate``, ``extra``), so a row decodes with
``speechtok.load(row["tokenizer"]).decode(tokens_from_row(row))``.

A shard is committed by writing its error list, then its Parquet file, each to a temporary name
followed by ``os.replace``. A shard is *done* iff its Parquet file exists, reads, and its ids plus
its error ids are exactly the ids the plan gave it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..fsutil import write_atomic
from ..tokens import Tokens

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("codes", pa.list_(pa.list_(pa.int32()))),
        ("num_codebooks", pa.int32()),
        ("frames", pa.int32()),
        ("frame_rate", pa.float64()),
        ("codebook_sizes", pa.list_(pa.int32())),
        ("tokenizer", pa.string()),
        ("tokenizer_version", pa.string()),
        ("num_samples", pa.int64()),
        ("sample_rate", pa.int32()),
        ("duration", pa.float64()),
        ("source", pa.string()),
        ("text", pa.string()),
        ("speaker", pa.string()),
        ("language", pa.string()),
        ("split", pa.string()),
        ("extra", pa.string()),  # JSON of Tokens.extra
    ]
)

DATA_DIR = "data"
ERRORS_DIR = "errors"


def shard_name(index: int, count: int) -> str:
    """Hugging Face's naming, so the hub and ``datasets`` recognise the split."""
    return f"{DATA_DIR}/train-{index:05d}-of-{count:05d}.parquet"


def shard_errors_name(index: int) -> str:
    return f"{ERRORS_DIR}/shard-{index:05d}.jsonl"


def table_from_encoded(encoded: list) -> pa.Table:
    """``[(utterance, Tokens)]`` -> a table in SCHEMA, rows sorted by id.

    ``codes`` is built from one flat int32 buffer and offsets (no Python ints per code), since
    a shard can hold hundreds of millions of codes.
    """
    encoded = sorted(encoded, key=lambda ut: ut[0].id)
    toks = [t for _, t in encoded]
    books = np.array([t.num_codebooks for t in toks], dtype=np.int32)
    frames = np.array([t.num_frames for t in toks], dtype=np.int32)
    flat = (
        np.concatenate([np.asarray(t.codes, dtype=np.int32).ravel() for t in toks])
        if toks
        else np.zeros(0, np.int32)
    )
    if flat.size >= 2**31:  # Arrow list offsets are int32
        raise ValueError(f"{flat.size} codes in one shard is too many; use a smaller --shard-size")
    inner = np.concatenate([[0], np.cumsum(np.repeat(frames, books), dtype=np.int64)]).astype(np.int32)
    outer = np.concatenate([[0], np.cumsum(books, dtype=np.int64)]).astype(np.int32)
    codes = pa.ListArray.from_arrays(outer, pa.ListArray.from_arrays(inner, pa.array(flat, pa.int32())))
    cols = {
        "id": [u.id for u, _ in encoded],
        "codes": codes,
        "num_codebooks": books,
        "frames": frames,
        "frame_rate": [float(t.frame_rate) for t in toks],
        "codebook_sizes": [list(t.codebook_sizes) for t in toks],
        "tokenizer": [t.tokenizer for t in toks],
        "tokenizer_version": [t.tokenizer_version for t in toks],
        "num_samples": [int(t.num_samples) for t in toks],
        "sample_rate": [int(t.sample_rate) for t in toks],
        "duration": [float(t.duration) for t in toks],
        "source": [u.path for u, _ in encoded],
        "text": [u.text for u, _ in encoded],
        "speaker": [u.speaker for u, _ in encoded],
        "language": [u.language for u, _ in encoded],
        "split": [u.split for u, _ in encoded],
        "extra": [json.dumps(t.extra, sort_keys=True) for t in toks],
    }
    arrays = [c if isinstance(c, pa.Array) else pa.array(c, f.type) for f in SCHEMA for c in [cols[f.name]]]
    return pa.table(arrays, schema=SCHEMA)


def tokens_from_row(row: dict, model_id: str | None = None) -> Tokens:
    """The exact ``Tokens`` value a row was made from; ``model_id`` is the job's (its plan.json)."""
    codes = np.asarray(row["codes"], dtype=np.int64).reshape(int(row["num_codebooks"]), int(row["frames"]))
    return Tokens(
        codes=codes,
        tokenizer=row["tokenizer"],
        tokenizer_version=row["tokenizer_version"],
        frame_rate=float(row["frame_rate"]),
        codebook_sizes=tuple(row["codebook_sizes"]),
        num_samples=int(row["num_samples"]),
        sample_rate=int(row["sample_rate"]),
        extra=json.loads(row["extra"] or "{}"),
        model_id=model_id,
    )


def _write_atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename into place (flushed to disk); a crash leaves only a ``.tmp`` file."""
    write_atomic(path, write, fsync=True)


def write_text_atomic(path: Path, text: str) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def commit_shard(out: Path, index: int, count: int, encoded: list, errors: list[dict]) -> Path:
    """Write one shard's errors, then its rows ``[(utterance, Tokens)]`` (sorted by id), each
    atomically.

    Errors first: the Parquet file is the commit point, so a shard whose Parquet file exists
    always has its error file beside it, and a redone shard replaces both (no duplicates).
    """
    write_text_atomic(out / shard_errors_name(index), "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))
    table = table_from_encoded(encoded)
    path = out / shard_name(index, count)
    _write_atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    return path


def read_shard_errors(out: Path, index: int) -> list[dict]:
    p = out / shard_errors_name(index)
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_shard(out: Path, index: int, count: int, expected_ids: list[str]) -> dict | None:
    """Stats of a committed shard if it is complete and consistent with the plan, else None.

    Reads the footer and the ``id``/``frames``/``num_codebooks``/``duration`` columns only.
    """
    path = out / shard_name(index, count)
    if not path.exists():
        return None
    try:
        table = pq.read_table(path, columns=["id", "frames", "num_codebooks", "duration"])
        if not pq.read_schema(path).equals(SCHEMA, check_metadata=False):
            return None
        errors = read_shard_errors(out, index)
    except (OSError, pa.ArrowException, ValueError):
        return None
    ids = table.column("id").to_pylist()
    err_ids = [e["id"] for e in errors]
    if len(ids) + len(err_ids) != len(expected_ids) or sorted(ids + err_ids) != sorted(expected_ids):
        return None
    frames = np.asarray(table.column("frames").to_numpy(), dtype=np.int64)
    books = np.asarray(table.column("num_codebooks").to_numpy(), dtype=np.int64)
    return {
        "file": shard_name(index, count),
        "rows": len(ids),
        "errors": len(err_ids),
        "seconds": float(np.sum(table.column("duration").to_numpy())) if len(ids) else 0.0,
        "tokens": int(np.sum(frames * books)),
        "bytes": path.stat().st_size,
    }


def remove_stale_temporaries(out: Path) -> int:
    """Delete ``.tmp`` files a killed run left behind. Returns how many."""
    n = 0
    for sub in (DATA_DIR, ERRORS_DIR, "."):
        d = out / sub
        if d.is_dir():
            for p in d.glob(".*.tmp*"):
                p.unlink(missing_ok=True)
                n += 1
    return n


def write_index_and_card(out: Path, plan: dict, stats: list[dict], command: str, extra: dict | None = None) -> dict:
    """``index.json`` (shards and totals, plus ``extra`` keys), merged ``errors.jsonl`` and the
    ``README.md`` card."""
    errors = [e for i in range(len(stats)) for e in read_shard_errors(out, i)]
    write_text_atomic(out / "errors.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))
    totals = {
        "utterances": sum(s["rows"] for s in stats),
        "failed": len(errors),
        "hours": sum(s["seconds"] for s in stats) / 3600,
        "tokens": sum(s["tokens"] for s in stats),
        "bytes": sum(s["bytes"] for s in stats),
    }
    index = {
        "tokenizer": plan["tokenizer"],
        "tokenizer_version": plan["tokenizer_version"],
        "model_id": plan.get("model_id"),
        "frame_rate": plan["frame_rate"],
        "codebook_sizes": plan["codebook_sizes"],
        "inputs": plan["inputs"],
        "num_inputs": plan["num_inputs"],
        "totals": totals,
        "shards": stats,
        **(extra or {}),
    }
    write_text_atomic(out / "index.json", json.dumps(index, indent=1) + "\n")
    write_text_atomic(out / "README.md", _card(plan, totals, len(stats), command))
    return index


def _card(plan: dict, totals: dict, num_shards: int, command: str) -> str:
    return f"""---
configs:
- config_name: default
  data_files:
  - split: train
    path: {DATA_DIR}/train-*.parquet
---
# Speech tokens: {plan['tokenizer']}

Made by speechtok from `{plan['inputs']}`.

| | |
|---|---|
| tokenizer | `{plan['tokenizer']}` version {plan['tokenizer_version']}, model id {plan.get('model_id') or 'none'} |
| frame rate | {plan['frame_rate']:g} Hz |
| codebooks | {len(plan['codebook_sizes'])} (sizes {', '.join(str(s) for s in plan['codebook_sizes'])}) |
| utterances | {totals['utterances']} of {plan['num_inputs']} inputs ({totals['failed']} failed, see `errors.jsonl`) |
| audio | {totals['hours']:.4f} hours |
| tokens | {totals['tokens']} |
| shards | {num_shards} Parquet files, {totals['bytes'] / 1e6:.2f} MB |

Command:

```
{command}
```

Columns: `id`, `codes` (`[num_codebooks][frames]` int32), `num_codebooks`, `frames`, `frame_rate`,
`codebook_sizes`, `tokenizer`, `tokenizer_version`, `num_samples`, `sample_rate` (of the source
audio), `duration` (seconds), `source` (input path), `text`, `speaker`, `language`, `split`,
`extra` (JSON).

```python
import datasets
ds = datasets.load_dataset("parquet", data_files="{DATA_DIR}/train-*.parquet", split="train")
```

Decode rows back to audio: `speechtok detokenize . --ids ID ... --out wavs/`.
"""


def shard_files(out: Path) -> list[Path]:
    """The committed shards of a finished job (from its index), else every shard file present."""
    index = out / "index.json"
    if index.exists():
        return [out / s["file"] for s in json.loads(index.read_text())["shards"]]
    return sorted((out / DATA_DIR).glob("train-*.parquet"))


def find_rows(out: Path, ids: list[str]) -> dict[str, dict]:
    """Rows with the given ids, as dicts, from the shards in ``out`` (reads only matching rows)."""
    import pyarrow.compute as pc

    wanted = pa.array(sorted(set(ids)), pa.string())
    found: dict[str, dict] = {}
    for path in shard_files(out):
        try:
            table = pq.read_table(path, filters=pc.field("id").isin(wanted))
        except (pa.ArrowException, OSError) as e:  # a truncated or overwritten shard
            from ..errors import TokensFileError

            reason = str(e).split(". ")[0].split(": ")[-1]
            raise TokensFileError(f"{path}: damaged shard, not readable as Parquet ({reason})") from None
        for row in table.to_pylist():
            found[row["id"]] = row
        if len(found) == len(wanted):
            break
    return found
