"""The limits a public deployment needs (one place for their defaults), and the bounded worker
pool that enforces the concurrency ones."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


@dataclass
class Limits:
    max_upload_mb: float = 10.0  # request body (audio file, token file or JSON tokens)
    max_duration_s: float = 60.0  # audio in, and audio a decode request would produce
    request_timeout_s: float = 30.0  # waiting for a worker + computing; then 503
    body_timeout_s: float = 20.0  # receiving the request body; then 408 (slow clients)
    workers: int = max(1, min(4, os.cpu_count() or 1))  # requests computing at once
    queue: int = 32  # admitted requests waiting for a worker; beyond: 503 at once
    max_streams: int = 4  # open WebSocket streams; beyond: closed with 1013 (try again later)
    stream_idle_s: float = 30.0  # a stream that sends nothing for this long is closed
    stream_max_s: float = 600.0  # audio seconds one stream may send
    stream_max_message_kb: float = 512.0  # one PCM message (1 s of 48 kHz float32 is 188 KiB)
    max_header_kb: float = 16.0  # all request headers together; beyond: 431
    header_timeout_s: float = 10.0  # a connection's request head must arrive whole within this (slowloris)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def validate(self) -> None:
        for name in ("max_upload_mb", "max_duration_s", "request_timeout_s", "body_timeout_s",
                     "stream_idle_s", "stream_max_s", "stream_max_message_kb", "max_header_kb", "header_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.workers < 1 or self.queue < 0 or self.max_streams < 0:
            raise ValueError("workers must be >= 1, queue and max_streams >= 0")


class Busy(Exception):
    """Every worker is busy and the queue is full."""


class TimedOut(Exception):
    """The job did not finish within the request timeout."""


class WorkerPool:
    """A thread pool that admits at most ``workers + queue`` jobs at once.

    A job counts against the bound until its thread has really finished: a request that timed
    out, or whose client went away, still holds its place while its computation runs, so the
    machine never runs more than ``workers`` computations however clients behave."""

    def __init__(self, workers: int, queue: int, name: str = "speechtok-worker"):
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self.capacity = workers + queue
        self._lock = threading.Lock()
        self.in_flight = 0

    def _release(self, _future) -> None:
        with self._lock:
            self.in_flight -= 1

    async def run(self, timeout: float, fn, *args):
        with self._lock:
            if self.in_flight >= self.capacity:
                raise Busy()
            self.in_flight += 1
        try:
            future = self.executor.submit(fn, *args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout)
        except asyncio.TimeoutError:
            future.cancel()  # drops it if it is still queued; a running job finishes, then frees its place
            raise TimedOut() from None
        except asyncio.CancelledError:  # the client went away
            future.cancel()
            raise

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
