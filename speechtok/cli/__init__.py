"""`speechtok` command line. Each subcommand lives in its own module of this package and
exposes ``register(subparsers)``, which adds its parser and sets ``func`` (args -> exit code).

Exit codes: 0 success, 1 some inputs failed (reported, others done), 2 bad usage or bad input,
130 interrupted (Ctrl-C), 141 the reader of the output went away (``speechtok list | head``).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import warnings

from ..errors import SpeechtokError, SpeechtokWarning, fault_message, one_line_warnings

# Order here is the order in `speechtok --help`. A module that is not part of this build is skipped.
SUBCOMMAND_MODULES = [
    "speechtok.cli.codec_cmds",  # encode, decode, info, list
    "speechtok.cli.data_cmds",  # data asterisk
    "speechtok.cli.train_cmd",  # train
    "speechtok.cli.bench_cmd",  # bench
    "speechtok.cli.corpus_cmds",  # tokenize, detokenize
    "speechtok.cli.probe_cmd",  # probe
    "speechtok.cli.serve_cmd",  # serve
    "speechtok.cli.lm_cmd",  # lm train | score | sample | bench | lexical
    "speechtok.cli.tts_cmd",  # tts train | say | bench
]


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line (``speechtok lm sample: error: argument --top-k:
    must be at least 0, got -3``) rather than the whole usage text first. Sub-parsers are of this
    class too (argparse makes them of their parent's class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(prog="speechtok", description="Speech to compact discrete tokens and back.")
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


def exit_code(failed: int, total: int) -> int:
    """The exit code every command gives after processing ``total`` inputs of which ``failed``
    failed (each reported on stderr): 0 none, 2 the only input, 1 some of several."""
    if not failed:
        return 0
    return 2 if total == 1 else 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # a usage error (one line, 2) or --help / --version (0)
        return e.code if isinstance(e.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    with warnings.catch_warnings():  # restores the warning filters and printer afterwards
        warnings.simplefilter("always", SpeechtokWarning)  # one line per file, even a repeated message
        _quiet_progress_bar_warnings()
        one_line_warnings(command_name(args))
        return _run(args)


def _quiet_progress_bar_warnings() -> None:
    """tqdm's own warnings (e.g. "clamping frac to range [0, 1]" when a resumed bar passes its
    total) are about drawing the bar, not the user's data: never print them as a fragment."""
    try:
        from tqdm import TqdmWarning
    except ImportError:
        return
    warnings.simplefilter("ignore", TqdmWarning)


def command_name(args) -> str:
    """``speechtok lm train``: the command and its sub-command, as error lines name them."""
    subs = [getattr(args, k, None) for k in ("lm_command", "data_command", "lexical_command")]
    return " ".join(["speechtok", args.command, *[s for s in subs if s]])


def _run(args) -> int:
    where = ""
    try:
        code = int(args.func(args) or 0)
        where = "standard output: "
        sys.stdout.flush()  # a closed pipe or a full device shows here, not at interpreter exit
        return code
    except SpeechtokError as e:
        print(f"{command_name(args)}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{command_name(args)}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `speechtok list | head`: the reader has all it wants. Point stdout at /dev/null so the
        # interpreter's final flush does not raise again, and exit as a pipe writer does.
        _silence_stdout()
        return 141
    except (OSError, MemoryError, RecursionError, ImportError) as e:
        # the one place where faults of the machine (no space, read-only, permission, a full
        # device, memory or recursion limits, a missing package) become one line and exit 2
        message = fault_message(e)
        if message is None:
            raise
        if not where and isinstance(e, OSError) and e.filename is None and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EIO):
            where = "standard output: "  # our own files are written by name (write_atomic names them)
        if where:  # stdout could not be written: point it at /dev/null so exit does not retry
            _silence_stdout()
        print(f"{command_name(args)}: error: {where}{message}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by something without a descriptor (tests)
        pass


if __name__ == "__main__":  # python -m speechtok.cli
    sys.exit(main())
