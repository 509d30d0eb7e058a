"""The Ray backend: one Ray task per shard; each task reads, encodes and commits its shard.

Tasks run the same ``encode_shard`` and ``commit_shard`` as the local backend, so rows are the
same byte for byte. They write straight into the output folder, which must therefore be on a
filesystem every node sees (NFS, a cluster volume); committing stays atomic per shard. A shard
whose task dies is simply not committed, and the job reports it and can be rerun.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..data import Utterance
from ..errors import MissingDependencyError
from . import shards
from .encode import Batching, cached_tokenizer, encode_shard, length_order, read_inline

def tokenize_shard(out: str, plan: dict, index: int, utt_rows: list[dict], batching: Batching) -> float:
    """Read, encode and commit shard ``index`` in this process; returns seconds of audio read."""
    tok = cached_tokenizer(plan["tokenizer_spec"])
    utts = length_order([Utterance(**r) for r in utt_rows])
    seconds = [0.0]

    def on_read(s: float) -> None:
        seconds[0] += s

    encoded, errors = encode_shard(tok, utts, read_inline(utts, int(plan["sample_rate"])), batching, on_read)
    shards.commit_shard(Path(out), index, plan["num_shards"], encoded, errors)
    return seconds[0]


def run_ray(
    out: Path,
    plan: dict,
    pending: list[tuple[int, list]],
    workers: int,
    batching: Batching,
    address: str | None,
    on_read: Callable[[float], None],
) -> None:
    """Run the pending shards as Ray tasks, at most ``workers`` at a time (0: as many as the
    cluster's CPUs allow). ``address``: a running cluster (``host:port`` or ``auto``); None starts
    a local one."""
    try:
        import ray
    except ImportError:
        raise MissingDependencyError("the ray backend needs Ray: pip install 'ray[data]'") from None

    started_here = not ray.is_initialized()
    if started_here:
        kwargs = {"address": address} if address else {"num_cpus": workers or None}
        ray.init(**kwargs, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        task = ray.remote(num_cpus=1, max_retries=2)(tokenize_shard)
        out_s = str(Path(out).resolve())
        limit = workers if workers > 0 else max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = [(i, [u.to_dict() for u in g]) for i, g in pending]
        running: list = []
        while queue or running:
            while queue and len(running) < limit:
                i, rows = queue.pop(0)
                running.append(task.remote(out_s, plan, i, rows, batching))
            done, running = ray.wait(running, num_returns=1)
            for ref in done:
                on_read(ray.get(ref))
    finally:
        if started_here:
            ray.shutdown()
