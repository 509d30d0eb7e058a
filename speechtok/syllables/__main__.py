"""``python -m speechtok.syllables fit|eval|train-decoder``: fit the content k-means; evaluate a manifest; train the decoder.

    python -m speechtok.syllables fit --data data/asterisk-en/train.jsonl data/lm/fortunes/train.jsonl --k 1024
    python -m speechtok.syllables eval --data data/asterisk-en/test.jsonl --align ALIGNMENTS.jsonl --out DIR
    python -m speechtok.syllables train-decoder --data data/asterisk-en/train.jsonl data/lm/fortunes/train.jsonl \
        --valid data/asterisk-en/valid.jsonl --out runs/syllables/decoder --minutes 20 --install
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


def _train_decoder(args) -> int:
    import torch

    from .train_decoder import install, train

    torch.set_num_threads(args.threads)
    w = train(args.data, args.out, args.valid, k=args.k, cpu_minutes=args.minutes, hidden=args.hidden,
              frame_layers=args.frame_layers, lr=args.lr, dropout=args.dropout,
              token_dropout=args.token_dropout, weight_decay=args.weight_decay, frames_per_batch=args.batch_frames,
              default_speaker=args.default_speaker, max_steps=args.max_steps, seed=args.seed,
              valid_every=args.valid_every, checkpoint_every=args.checkpoint_every, units=args.units,
              teacher=args.teacher)
    print(w)
    if args.install:
        from .train_decoder import unit_tokenizer

        install(args.out, unit_tokenizer(args.units, args.k, args.teacher).decoder_key)
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
    d = sub.add_parser("train-decoder", help="train the unit-to-speech decoder (resumes from OUT/checkpoint.pt)")
    d.add_argument("--data", nargs="+", required=True, help="manifests (.jsonl) of the training audio (English with text)")
    d.add_argument("--valid", help="manifest of held-out utterances of the same speakers (validation loss)")
    d.add_argument("--out", required=True, help="run folder: cache/, checkpoint.pt, log.jsonl, decoder_kK.*")
    d.add_argument("--k", type=int, default=1024, help="the syllables:kK centroids whose codes it decodes")
    d.add_argument("--units", choices=("syllables", "phones"), default="syllables",
                   help="the tokens it decodes: syllables (syllables:kK) or phones (phone-units)")
    d.add_argument("--teacher", help="with --units phones: the shipped teacher version (v1, v2, ...; default: phone-units' own)")
    d.add_argument("--minutes", type=float, default=20.0, help="CPU-minutes of training in all (resumed sessions included)")
    d.add_argument("--max-steps", type=int, default=0)
    d.add_argument("--valid-every", type=int, default=100, help="steps between validations (0: none)")
    d.add_argument("--checkpoint-every", type=int, default=100)
    d.add_argument("--hidden", type=int, default=128)
    d.add_argument("--frame-layers", type=int, default=6)
    d.add_argument("--lr", type=float, default=2e-3)
    d.add_argument("--dropout", type=float, default=0.3)
    d.add_argument("--token-dropout", type=float, default=0.1, help="chance a syllable's content embedding is dropped in training")
    d.add_argument("--weight-decay", type=float, default=0.01)
    d.add_argument("--batch-frames", type=int, default=4000, help="frames (50 Hz) per batch")
    d.add_argument("--default-speaker", help="the speaker decode uses by default (default: most training audio)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--threads", type=int, default=1)
    d.add_argument("--install", action="store_true", help="copy the result into speechtok/assets/syllables")
    args = ap.parse_args(argv)
    return {"fit": _fit, "eval": _eval, "train-decoder": _train_decoder}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
