"""`speechtok` command line. Each subcommand lives in its own module of this package and
exposes ``register(subparsers)``, which adds its parser and sets ``func`` (args -> exit code).

Exit codes: 0 success, 1 some inputs failed (reported, others done), 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import SpeechtokError

# Order here is the order in `speechtok --help`. A module that is not part of this build is skipped.
SUBCOMMAND_MODULES = [
    "speechtok.cli.codec_cmds",  # encode, decode, info, list
    "speechtok.cli.data_cmds",  # data asterisk
    "speechtok.cli.train_cmd",  # train
    "speechtok.cli.bench_cmd",  # bench
    "speechtok.cli.corpus_cmds",  # tokenize, detokenize
    "speechtok.cli.probe_cmd",  # probe
    "speechtok.cli.lm_cmd",  # lm train | score | sample | bench | lexical
]


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="speechtok", description="Speech to compact discrete tokens and back."
    )
    parser.add_argument("--version", action="version", version=f"speechtok {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SpeechtokError as e:
        print(f"speechtok {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"speechtok {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # python -m speechtok.cli
    sys.exit(main())
