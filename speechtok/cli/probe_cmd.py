"""`speechtok probe`: how much phonetic content tokens carry (PNMI, purity, stability, probe PER).

    speechtok probe -t mfcc-kmeans@50hz:k500 -t opus@6kbps --data data/asterisk/test.jsonl \\
        --train data/asterisk/train.jsonl --out runs/semantic

Writes OUT/rows.jsonl in the same row format as `speechtok bench` (resumable).
"""

from __future__ import annotations

import sys

from ..errors import SpeechtokError


def register(subparsers) -> None:
    p = subparsers.add_parser("probe", help="semantic measures: PNMI/purity vs phone alignments, token stability, phone probe")
    p.add_argument("-t", "--tokenizer", action="append", default=[], metavar="NAME", help="tokenizer (repeat for several)")
    p.add_argument("--data", help="manifest (.jsonl) of held-out speech; its English utterances with text are used")
    p.add_argument("--out", required=True, help="output folder (rows.jsonl)")
    p.add_argument("--train", help="manifest of the probe's training utterances (without it, no probe)")
    p.add_argument("--alignments", help="alignment cache .jsonl (default: one per data folder in the cache folder, "
                   "$SPEECHTOK_CACHE or $XDG_CACHE_HOME/speechtok)")
    p.add_argument("--measures", nargs="+", default=["purity", "stability", "probe"], choices=["purity", "stability", "probe"])
    p.add_argument("--probe-steps", type=int, default=300, help="probe training steps (batch 16; default 300)")
    p.add_argument("--limit", type=int, help="use N test utterances spread over the data")
    p.add_argument("--stability-limit", type=int, default=20, help="utterances for token stability (default 20)")
    p.add_argument("--table", action="store_true", help="only print a markdown table of OUT/rows.jsonl")
    p.add_argument("--threads", type=int, help="torch threads (on a busy shared machine 1 is much faster)")
    p.set_defaults(func=_probe)


def _probe(args) -> int:
    if args.table:
        from pathlib import Path

        from ..eval.phonetic import markdown_table

        if not (Path(args.out) / "rows.jsonl").exists():
            raise SpeechtokError(f"{args.out}: no rows.jsonl")
        print(markdown_table(Path(args.out) / "rows.jsonl"))
        return 0
    if not args.tokenizer:
        raise SpeechtokError("name at least one tokenizer with -t NAME (`speechtok list` shows them)")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from ..eval.phonetic import SemanticConfig, run_semantic
    if not args.data:
        raise SpeechtokError("--data MANIFEST is required")
    from ..fsutil import claim_output_dir

    claim_output_dir(args.out, "probe", legacy_markers=("rows.jsonl",))  # never a folder of the user's
    try:
        rows = run_semantic(SemanticConfig(
            tokenizers=args.tokenizer, data=args.data, out=args.out, train=args.train, alignments=args.alignments,
            measures=tuple(args.measures), probe_steps=args.probe_steps, limit=args.limit,
            stability_limit=args.stability_limit))
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    print(f"wrote {rows}", file=sys.stderr)
    return 0
