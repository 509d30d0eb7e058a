"""`speechtok data ...`: build the speech corpora speechtok uses for quick experiments."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="build speech corpora (manifests + 16 kHz wav)")
    sub = data.add_subparsers(dest="data_command", metavar="CORPUS")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    ast = sub.add_parser(
        "asterisk",
        help="Asterisk core prompts (en, es, fr, it; CC-BY-SA-3.0 / CC-BY-3.0) from Debian packages",
        description="Decode the Asterisk core prompts (Debian packages asterisk-core-sounds-XX-g722, "
        "transcripts from asterisk-core-sounds-XX) to 16 kHz mono wav and write all/train/valid/test "
        "JSON Lines manifests. Resumable: files already decoded are kept.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ast.add_argument("--out", default="data/asterisk",
                     help="output folder: new, empty, or one this command made (rerun to resume)")
    ast.add_argument("--languages", nargs="+", default=["en", "es", "fr", "it"], metavar="LANG")
    ast.add_argument("--seed", type=int, default=0, help="seed of the id hash that fixes the splits")
    ast.add_argument("--jobs", type=int, default=2, help="ffmpeg processes at once")
    ast.set_defaults(func=_asterisk)


def _asterisk(args) -> int:
    from ..data.asterisk import build_corpus, summarize
    from ..errors import SpeechtokError
    from ..fsutil import claim_output_dir

    if args.jobs < 1:
        raise SpeechtokError(f"--jobs must be at least 1, got {args.jobs}")
    claim_output_dir(args.out, "data asterisk", legacy_markers=("all.jsonl",))  # never a folder of the user's
    utts = build_corpus(args.out, languages=args.languages, seed=args.seed, jobs=args.jobs)
    print(summarize(utts))
    print(f"manifests: {args.out}/{{all,train,valid,test}}.jsonl")
    return 0
