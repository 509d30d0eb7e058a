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

    sp = sub.add_parser(
        "speech",
        help="the many-voice corpus split by voice: asterisk + 4 more real voices + festival/flite/espeak voices",
        description="Build the corpus a codec that must generalize is trained on: the Asterisk studio voices "
        "(in-domain), four more real voices from Debian's asterisk prompts (Russian wideband; Colombian Spanish, "
        "French and Italian at 8 kHz / GSM; downloaded with apt-get download + dpkg -x into --cache when not "
        "installed), and festival / flite / espeak-ng voices. Splits are by voice: the held-out voices of "
        "test-voices.jsonl never appear in training (see docs/data.md). Resumable.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sp.add_argument("--out", default="data/speech", help="output folder (rerun to resume)")
    sp.add_argument("--asterisk", default=None,
                    help="an existing `speechtok data asterisk` folder (default: build one in OUT/asterisk)")
    sp.add_argument("--per-voice", type=_positive_int, default=100, help="sentences per synthetic voice")
    sp.add_argument("--cache", default=None, help="where Debian packages are unpacked (default ~/.cache/speechtok/debs)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--jobs", type=_positive_int, default=2, help="decoder / synthesizer processes at once")
    sp.set_defaults(func=_speech)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _speech(args) -> int:
    from ..data.speech import build_speech_corpus, summarize_voices
    from ..fsutil import claim_output_dir

    claim_output_dir(args.out, "data speech", legacy_markers=("train.jsonl",))
    splits = build_speech_corpus(args.out, asterisk=args.asterisk, per_voice=args.per_voice, seed=args.seed,
                                 jobs=args.jobs, cache=args.cache)
    print(summarize_voices(splits))
    print(f"manifests: {args.out}/{{train,valid,valid-voices,test,test-voices,test-synthetic}}.jsonl")
    return 0


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
