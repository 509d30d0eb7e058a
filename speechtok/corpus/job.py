"""A tokenization job: plan it deterministically, run the shards not yet done, write the index.

Exactly once: the inputs are sorted by id and cut into shards of ``shard_size`` consecutive
utterances, so shard ``i`` holds the same utterances every time; the plan is saved in
``OUT/plan.json`` on the first run and a rerun must match it (same inputs, tokenizer and shard
size) or is refused. Shards are committed atomically (see ``shards``) and a shard is redone iff it
is not committed, so a job killed at any moment and rerun ends with every utterance in exactly one
row or one error line. ``index.json`` is written last: it marks a finished job.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..data import list_inputs
from ..data.manifest import ManifestError
from ..errors import SpeechtokError
from . import shards
from .encode import Batching

PLAN_VERSION = 1
DEFAULT_SHARD_SIZE = 1000


class JobError(SpeechtokError):
    """The output folder cannot be used for this job (planned for other inputs, or busy)."""


@dataclass
class JobOptions:
    tokenizer: str
    data: str
    out: str
    workers: int | None = 1  # None: the backend's default (local: local.default_workers; ray: the cluster's CPUs)
    batching: Batching = field(default_factory=Batching)
    shard_size: int | None = None  # None: the plan's, or DEFAULT_SHARD_SIZE for a new job
    backend: str = "local"
    encode_in: str = "auto"  # local backend: "main", "workers" or "auto" (see local.run_local)
    ray_address: str | None = None
    progress: bool = True
    command: str = ""


def sorted_inputs(data: str) -> list:
    """Utterances from a manifest or folder, sorted by id; ids must be unique."""
    utts = sorted(list_inputs(data), key=lambda u: u.id)
    dups = sorted({a.id for a, b in zip(utts, utts[1:]) if a.id == b.id})
    if dups:
        shown = ", ".join(repr(d) for d in dups[:5])
        raise ManifestError(f"{data}: {len(dups)} utterance ids occur more than once ({shown}); ids must be unique")
    return utts


def inputs_digest(utts: list) -> str:
    h = hashlib.sha256()
    for u in utts:
        h.update(json.dumps(u.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
    return h.hexdigest()


def make_plan(utts: list, tok, spec: str, data: str, shard_size: int) -> dict:
    if shard_size < 1:
        raise JobError(f"--shard-size must be at least 1, got {shard_size}")
    return {
        "plan_version": PLAN_VERSION,
        "tokenizer_spec": spec,
        "tokenizer": tok.name,
        "tokenizer_version": tok.version,
        "model_id": tok.model_id,
        "frame_rate": float(tok.frame_rate),
        "codebook_sizes": list(tok.codebook_sizes),
        "sample_rate": int(tok.sample_rate),
        "inputs": str(data),
        "num_inputs": len(utts),
        "inputs_sha256": inputs_digest(utts),
        "shard_size": shard_size,
        "num_shards": max(1, -(-len(utts) // shard_size)),
    }


def tokenizer_spec(spec: str) -> str:
    """What the plan stores to load the tokenizer again: a name as given, a run folder or weights
    file as its absolute path, so `detokenize` finds it from any working folder."""
    p = Path(spec).expanduser()
    return str(p.resolve()) if p.exists() else spec


def check_plan(saved: dict, new: dict, out: Path) -> None:
    """Refuse to continue a job in ``out`` that was planned differently."""
    keys = ("plan_version", "tokenizer", "tokenizer_version", "num_inputs", "inputs_sha256", "shard_size")
    diff = [k for k in keys if saved.get(k) != new.get(k)]
    if diff:
        what = "; ".join(f"{k}: planned {saved.get(k)!r}, now {new.get(k)!r}" for k in diff)
        raise JobError(
            f"{out} holds a job planned for other inputs or another tokenizer ({what}). "
            f"Rerun with the same inputs and tokenizer to resume, or choose a new --out."
        )


def shard_utterances(plan: dict, utts: list) -> list[list]:
    n = plan["shard_size"]
    return [utts[i * n : (i + 1) * n] for i in range(plan["num_shards"])]


_HELD_LOCKS: set[int] = set()  # descriptors of the output-folder locks this process holds


def _drop_locks_in_child() -> None:
    """A forked process (a local worker) lets go of the job's lock: a lock belongs to the open
    file, which fork shares, so a worker outliving a killed job would otherwise keep the folder
    locked. The descriptor is pointed at /dev/null rather than closed, so its number is never
    reused behind the file object the child also inherited."""
    if not _HELD_LOCKS:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    for fd in _HELD_LOCKS:
        try:
            os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_locks_in_child)


@contextmanager
def _exclusive(out: Path):
    """One writer per output folder; the OS drops the lock when the process dies (even SIGKILL)."""
    with open(out / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobError(f"{out}: another `speechtok tokenize` is writing here") from None
        _HELD_LOCKS.add(f.fileno())
        try:
            yield
        finally:
            _HELD_LOCKS.discard(f.fileno())


def run_job(opts: JobOptions, log=print) -> dict:
    """Plan (or resume) and run a job. Returns the summary dict (also printed via ``log``)."""
    import speechtok

    from ..fsutil import claim_output_dir

    out = claim_output_dir(opts.out, "tokenize", legacy_markers=("plan.json",))  # never a user's folder
    with _exclusive(out):
        tok = speechtok.load(opts.tokenizer)
        utts = sorted_inputs(opts.data)
        plan_path = out / "plan.json"
        saved = json.loads(plan_path.read_text()) if plan_path.exists() else None
        size = opts.shard_size or (saved or {}).get("shard_size") or DEFAULT_SHARD_SIZE
        plan = make_plan(utts, tok, tokenizer_spec(opts.tokenizer), opts.data, size)
        if saved is None:
            shards.write_text_atomic(plan_path, json.dumps(plan, indent=1) + "\n")
        else:
            check_plan(saved, plan, out)
            plan = saved
        shards.remove_stale_temporaries(out)

        groups = shard_utterances(plan, utts)
        count = plan["num_shards"]
        stats = [shards.check_shard(out, i, count, [u.id for u in g]) for i, g in enumerate(groups)]
        pending = [(i, g) for i, (g, s) in enumerate(zip(groups, stats)) if s is None]
        if not pending and (out / "index.json").exists():
            summary = _summary(out, plan, stats, run_audio=0.0, wall=0.0)
            log(f"nothing to do: all {count} shards in {out} are complete. " + _describe(summary))
            return summary

        t0 = time.perf_counter()
        done_audio = _run_backend(opts, out, plan, pending, tok)
        wall = time.perf_counter() - t0

        stats = [shards.check_shard(out, i, count, [u.id for u in g]) for i, g in enumerate(groups)]
        missing = [i for i, s in enumerate(stats) if s is None]
        if missing:
            raise JobError(f"{out}: {len(missing)} shards did not complete (first: {missing[0]}); rerun to retry them")
        shards.write_index_and_card(out, plan, stats, opts.command)
        summary = _summary(out, plan, stats, run_audio=done_audio, wall=wall)
        log(_describe(summary))
        return summary


def _run_backend(opts: JobOptions, out: Path, plan: dict, pending: list, tok) -> float:
    """Run the pending shards on the chosen backend; returns seconds of audio read."""
    from tqdm import tqdm

    durations = [u.duration for _, g in pending for u in g]
    total = sum(durations) / 3600 if durations and None not in durations else None
    bar = tqdm(
        total=total,
        unit="h",
        desc="tokenize",
        disable=not opts.progress,
        file=sys.stderr,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.4f}/{total:.4f} h audio [{elapsed}<{remaining}{postfix}]"
        if total
        else "{desc}: {n:.4f} h audio [{elapsed}{postfix}]",
    )
    seconds = [0.0]

    def on_read(s: float) -> None:
        seconds[0] += s
        elapsed = bar.format_dict["elapsed"]
        if elapsed > 0:  # tqdm's own rate flips to s/h below 1 h/s; audio hours per second reads better
            bar.set_postfix_str(f"{seconds[0] / 3600 / elapsed:.3g} h/s = {seconds[0] / elapsed:.3g}x real time", refresh=False)
        bar.update(s / 3600)

    try:
        if opts.backend == "local":
            from .local import run_local

            run_local(out, plan, pending, tok, opts.workers, opts.batching, on_read, opts.encode_in)  # None: default_workers
        elif opts.backend == "ray":
            from .ray_backend import run_ray

            run_ray(out, plan, pending, opts.workers or 0, opts.batching, opts.ray_address, on_read)
        else:
            raise JobError(f"unknown backend {opts.backend!r} (choose local or ray)")
    finally:
        bar.close()
    return seconds[0]


def _summary(out: Path, plan: dict, stats: list[dict], run_audio: float, wall: float) -> dict:
    failed = sum(s["errors"] for s in stats)
    return {
        "out": str(out),
        "tokenizer": plan["tokenizer"],
        "inputs": plan["num_inputs"],
        "utterances": sum(s["rows"] for s in stats),
        "failed": failed,
        "hours": sum(s["seconds"] for s in stats) / 3600,
        "tokens": sum(s["tokens"] for s in stats),
        "shards": len(stats),
        "run_audio_hours": run_audio / 3600,
        "run_wall_seconds": wall,
        "realtime_factor": run_audio / wall if wall > 0 else None,
    }


def _describe(s: dict) -> str:
    text = (
        f"{s['utterances']} of {s['inputs']} utterances tokenized with {s['tokenizer']} "
        f"({s['hours']:.4f} h audio, {s['tokens']} tokens, {s['shards']} shards) in {s['out']}"
    )
    if s["realtime_factor"]:
        text += (
            f"; this run: {s['run_audio_hours']:.4f} h in {s['run_wall_seconds']:.1f} s "
            f"= {s['realtime_factor']:.3g}x real time"
        )
    if s["failed"]:
        text += f"; {s['failed']} failed, see {Path(s['out']) / 'errors.jsonl'}"
    return text


def exit_code(summary: dict) -> int:
    """0 when every input was tokenized, 1 when some failed (they are listed in errors.jsonl)."""
    return 1 if summary["failed"] else 0

