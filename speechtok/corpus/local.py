"""The local backend: worker processes read and resample audio while this process encodes.

Reading runs ahead of encoding through a bounded window of pool tasks (so memory stays flat on a
corpus of any size) and does not stop at shard boundaries: while shard ``i`` is being encoded and
written, the workers already read shard ``i + 1``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections import deque
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import one_line_warnings
from . import encode, shards
from .encode import (
    Batching,
    Decoded,
    encode_shard,
    has_batched_encoder,
    length_order,
    read_and_encode,
    read_inline,
    read_input,
)


def environment_cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def bounded_imap(pool, fn, jobs: Iterable, window: int) -> Iterator:
    """``pool.imap(fn, jobs)`` in order, but with at most ``window`` tasks submitted and not yet
    consumed (``Pool.imap`` would read the whole input and buffer every result)."""
    pending: deque = deque()
    for job in jobs:
        pending.append(pool.apply_async(fn, (job,)))
        if len(pending) >= window:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def encode_place(tok, encode_in: str = "auto") -> str:
    """"main" or "workers": where ``run_local`` encodes (``encode_in`` "auto" decides by the tokenizer)."""
    if encode_in != "auto":
        return encode_in
    # a batched encoder that runs on the CPU anyway (batch_in_workers) is faster as one copy
    # per worker process than as one copy in the main process
    return "main" if has_batched_encoder(tok) and not tok.batch_in_workers else "workers"


def default_workers(encode_in: str) -> int:
    """Workers when none are asked for: one per CPU when they encode (the job's own process then
    only collects and writes), one fewer when the main process encodes."""
    cpus = environment_cpu_count()
    return cpus if encode_in == "workers" else max(1, cpus - 1)


def run_local(
    out: Path,
    plan: dict,
    pending: list[tuple[int, list]],
    tok,
    workers: int | None,
    batching: Batching,
    on_read: Callable[[float], None],
    encode_in: str = "auto",
) -> None:
    """Tokenize and commit each pending ``(shard index, utterances)``.

    ``workers`` reader processes (0: read in this process, no overlap; None: ``default_workers``). ``encode_in``: "main"
    encodes here in length-sorted batches (for a batched, maybe GPU, encoder), "workers" has
    each worker encode what it read (a one-by-one CPU codec then runs on every core), "auto"
    picks "main" for tokenizers with a batched encoder (unless they say ``batch_in_workers``),
    else "workers". Rows are the same.
    """
    ordered = [(i, length_order(g)) for i, g in pending]
    sr = int(plan["sample_rate"])
    encode_in = encode_place(tok, encode_in)
    if workers is None:
        workers = default_workers(encode_in)
    if encode_in == "workers" and workers > 0:
        fn, jobs = read_and_encode, ((u.path, plan["tokenizer_spec"]) for _, g in ordered for u in g)
    else:
        fn, jobs = read_input, ((u.path, sr) for _, g in ordered for u in g)
    if workers <= 0:
        _encode_all(out, plan, ordered, tok, batching, read_inline([u for _, g in ordered for u in g], sr), on_read)
        return
    if encode_in == "workers" and "fork" in mp.get_all_start_methods() and sys.platform.startswith("linux"):
        # fork: each worker starts as a copy of this process with torch imported and the tokenizer
        # loaded (no seconds of start-up per worker). Safe here because every worker limits
        # torch, MKL and OpenMP to one thread before its first tensor operation, so it never
        # touches a thread pool this process may have had (see _init_worker).
        ctx = mp.get_context("fork")
        encode.preload_tokenizer(plan["tokenizer_spec"], tok)
    else:
        # forkserver: workers start from a clean process, not a fork of one running torch threads.
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["speechtok.corpus.encode"])
    # One thread per worker: the work is many independent files, so processes use the cores and
    # intra-op threads only add contention (on a busy machine, tens of times slower).
    # Several inputs per task: one round trip through the pool costs the job's process more than
    # pickling the codes; the window (in inputs) bounds how far reading runs ahead, as before.
    window = max(32, 8 * workers, 2 * batching.size)
    chunk = max(1, min(TASK_INPUTS, window // (4 * workers)))
    with ctx.Pool(workers, initializer=_init_worker, initargs=("speechtok tokenize", 1)) as pool:
        tasks = bounded_imap(pool, _run_many, ((fn, c) for c in _chunks(jobs, chunk)), window=-(-window // chunk))
        stream = (d for results in tasks for d in results)
        _encode_all(out, plan, ordered, tok, batching, stream, on_read)


TASK_INPUTS = 8  # inputs per pool task at most


def _chunks(items: Iterable, n: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _run_many(job: tuple) -> list:
    fn, items = job
    return [fn(item) for item in items]


def limit_threads(threads: int) -> None:
    """Limit this process's compute libraries to ``threads`` threads: the environment for
    libraries not loaded yet (and for their children), torch's intra-op pool (which also sets
    OpenMP's and MKL's), and numpy's BLAS if threadpoolctl is installed."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(threads)


def _init_worker(prefix: str, threads: int) -> None:
    """Each worker: its thread limit first (before any tensor operation), then speechtok's
    warnings as one line."""
    limit_threads(threads)
    one_line_warnings(prefix)


def _encode_all(out, plan, ordered, tok, batching, stream: Iterator[Decoded], on_read) -> None:
    for index, utts in ordered:
        decoded = (next(stream) for _ in utts)
        encoded, errors = encode_shard(tok, utts, decoded, batching, on_read)
        shards.commit_shard(out, index, plan["num_shards"], encoded, errors)
