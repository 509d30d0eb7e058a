"""argparse types that check a number's range at parse time, so a bad option is one usage line
(exit 2) before any work: ``--top-k -3``, ``--port 99999``, ``--seconds 1e9``."""

from __future__ import annotations

import argparse
import math


def _number(kind, lo=None, hi=None, lo_open=False):
    what = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise argparse.ArgumentTypeError(f"must be {'more than' if lo_open else 'at least'} {lo:g}, got {text}")
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"must be at most {hi:g}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def int_range(lo: int | None = None, hi: int | None = None):
    """An int in ``[lo, hi]`` (either bound may be None)."""
    return _number(int, lo, hi)


def float_range(lo: float | None = None, hi: float | None = None, lo_open: bool = False):
    """A finite float in ``[lo, hi]``, or ``(lo, hi]`` with ``lo_open``."""
    return _number(float, lo, hi, lo_open)


positive_int = int_range(1)
nonnegative_int = int_range(0)
positive_float = float_range(0, lo_open=True)
nonnegative_float = float_range(0)
port = int_range(0, 65535)  # 0: any free port
