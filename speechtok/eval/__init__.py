"""Benchmarking tokenizers: metrics, token statistics, the runner and its reports.

``speechtok bench`` (speechtok/cli/bench_cmd.py) is the command; :func:`runner.run_bench` does the
work; every table is rebuilt from ``rows.jsonl`` by :mod:`report`.
"""
