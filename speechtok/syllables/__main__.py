"""``python -m speechtok.syllables fit|eval``: fit the content k-means; evaluate a manifest.

    python -m speechtok.syllables fit --data data/asterisk-en/train.jsonl data/lm/fortunes/train.jsonl --k 1024
    python -m speechtok.syllables eval --data data/asterisk-en/test.jsonl --align ALIGNMENTS.jsonl --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _fit(args) -> int:
    import torch
    from tqdm import tqdm

    from ..audio import load_audio
    from ..data.manifest import list_inputs
    from ..data.forced_align import english_with_text
    from .segment import SAMPLE_RATE
    from .tokenizer import asset_path, fit

    torch.set_num_threads(args.threads)
    utts = [u for m in args.data for u in english_with_text(list_inputs(m))]
    wavs = [load_audio(u.path, SAMPLE_RATE)[0] for u in tqdm(utts, desc="load", unit="utt")]
    minutes = sum(map(len, wavs)) / SAMPLE_RATE / 60
    print(f"{len(wavs)} utterances, {minutes:.1f} min", file=sys.stderr)
    out = fit(wavs, args.k, args.out and Path(args.out) / asset_path(args.k).name, seed=args.seed, progress=True,
              meta={"data": " ".join(args.data), "utterances": len(wavs), "minutes": f"{minutes:.1f}"})
    print(out)
    return 0


def _eval(args) -> int:
    import torch

    from .evaluate import evaluate_manifest

    torch.set_num_threads(args.threads)
    summary = evaluate_manifest(args.tokenizer, args.data, args.align, out=args.out, map_manifest=args.map_data)
    print(json.dumps(summary, indent=1))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m speechtok.syllables", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="fit the content k-means on the English utterances of manifests")
    f.add_argument("--data", nargs="+", required=True, help="manifests (.jsonl); English utterances with text are used")
    f.add_argument("--k", type=int, default=1024)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--out", help="folder (default: speechtok/assets/syllables)")
    f.add_argument("--threads", type=int, default=1)
    e = sub.add_parser("eval", help="boundary F1, PNMI/purity, rates on an aligned English manifest")
    e.add_argument("--data", required=True, help="manifest (.jsonl)")
    e.add_argument("--align", required=True, help="alignment cache (python -m speechtok.data.forced_align); missing rows are aligned into it")
    e.add_argument("-t", "--tokenizer", default="syllables")
    e.add_argument("--out", help="folder for rows.jsonl and summary.json")
    e.add_argument("--map-data", help="manifest whose syllables map units to labels for the held-out unit accuracy (e.g. the train split)")
    e.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    return _fit(args) if args.cmd == "fit" else _eval(args)


if __name__ == "__main__":
    sys.exit(main())
