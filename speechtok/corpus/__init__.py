"""Corpus tokenization: many audio files -> resumable, exactly-once Parquet token shards,
on local worker processes or a Ray cluster. Entry point: ``run_job(JobOptions(...))``."""

from .encode import Batching
from .job import JobError, JobOptions, run_job
from .shards import SCHEMA, find_rows, tokens_from_row

__all__ = ["SCHEMA", "Batching", "JobError", "JobOptions", "find_rows", "run_job", "tokens_from_row"]
