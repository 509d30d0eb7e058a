"""`speechtok tts train | say | bench`: text to speech on the codec's tokens (docs/tts.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import SpeechtokError
from .options import float_range, positive_float, positive_int


def register(subparsers) -> None:
    tts = subparsers.add_parser(
        "tts", help="text to speech on speechtok's tokens: train a voice, say text, benchmark",
        description="A non-autoregressive TTS whose frames are the source-filter codec's parameters and tokens (docs/tts.md).",
    )
    sub = tts.add_subparsers(dest="tts_command", metavar="TTS_COMMAND")
    tts.set_defaults(func=lambda args: (tts.print_help(), 2)[1])

    t = sub.add_parser("train", help="train a voice on a transcribed manifest (resumable)",
                       description="Train a voice on a JSONL manifest with path, text, speaker, language "
                       "(one speaker or several). The run folder loads with speechtok.tts.load(FOLDER).")
    t.add_argument("config", type=Path, help="YAML config (see configs/tts-en-allison.yaml)")
    t.add_argument("--out", type=Path, help="run folder (default: runs/tts-<config name>)")
    t.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    t.add_argument("--data", help="training manifest (sets data.train)")
    t.add_argument("--steps", type=positive_int, help="override train.steps")
    t.add_argument("--max-cpu-minutes", type=positive_float, help="stop (with a checkpoint) after this much CPU time")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set model.hidden=128 (repeatable)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=run_train)

    s = sub.add_parser("say", help="speak text with a voice into a wav file",
                       description="Text -> phones (espeak-ng) -> the voice's frames -> the codec's tokens -> audio.")
    s.add_argument("text", help="the text to speak ('-' reads standard input)")
    s.add_argument("-o", "--out", type=Path, required=True, help="output wav (an existing file is kept unless --overwrite)")
    s.add_argument("--model", default="speechtok-tts-en", help="voice folder or shipped name (default speechtok-tts-en)")
    s.add_argument("--voice", help="speaker of a multi-speaker model (default: its first)")
    s.add_argument("--language", help="language of the text (default: the voice's)")
    s.add_argument("--pace", type=float_range(0.25, 4.0), default=1.0, help="duration scale, >1 slower (default 1)")
    s.add_argument("--tokens-out", type=Path, help="also write the codec tokens (.stok) the audio was decoded from")
    s.add_argument("--direct", action="store_true", help="render the predicted parameters without quantizing them")
    s.add_argument("--overwrite", action="store_true")
    s.set_defaults(func=run_say)

    b = sub.add_parser("bench", help="intelligibility, speaker similarity, DNSMOS, F0 and speed on held-out sentences",
                       description="Compare a voice with its recordings, the codec's resynthesis of them and classic TTS.")
    b.add_argument("--model", default="speechtok-tts-en", help="voice folder or shipped name")
    b.add_argument("--voice", help="speaker of a multi-speaker model (default: its first)")
    b.add_argument("--weights", type=Path, help="other weights of the same voice (a snapshot of its training)")
    b.add_argument("--manifest", required=True, help="held-out transcribed manifest (never in training)")
    b.add_argument("--limit", type=positive_int, default=20, help="sentences (default 20)")
    b.add_argument("--no-classic", action="store_true", help="skip flite / espeak-ng / festival")
    b.add_argument("--threads", type=positive_int, default=2, help="torch threads for synthesis (default 2)")
    b.add_argument("--out", type=Path, default=Path("benchmarks/tts"), help="folder for NAME-VOICE.json/.md")
    b.add_argument("--temperature", type=float, default=0.0, help="an LM voice (`lm say`): sampling temperature (default 0: greedy)")
    b.add_argument("--top-k", type=positive_int, default=None, help="an LM voice: sample among the k most likely ids")
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=run_bench)


def run_train(args: argparse.Namespace) -> int:
    from ..fsutil import claim_output_dir
    from ..tts.config import load_tts_config
    from ..tts.train import train

    if not args.config.exists():
        raise SpeechtokError(f"{args.config}: no such config file")
    overrides = list(args.overrides) + ([f"data.train={args.data}"] if args.data else [])
    try:
        cfg = load_tts_config(args.config, overrides)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    if args.steps:
        cfg.train.steps = args.steps
    if args.max_cpu_minutes:
        cfg.train.max_cpu_minutes = args.max_cpu_minutes
    out = args.out or Path("runs") / f"tts-{args.config.stem.removeprefix('tts-')}"
    claim_output_dir(out, "tts train", legacy_markers=("checkpoint.pt",))
    train(cfg, out, resume=args.resume, progress=not args.no_progress)
    return 0


def run_say(args: argparse.Namespace) -> int:
    from ..audio import write_audio_atomic
    from ..fsutil import check_new_file
    from ..tts import load

    text = sys.stdin.read() if args.text == "-" else args.text
    check_new_file(args.out, args.overwrite)
    if args.tokens_out:
        check_new_file(args.tokens_out, args.overwrite)
    v = load(args.model)
    if args.direct:
        wav = v.say(text, args.voice, args.language, args.pace, through_tokens=False)
    else:
        tokens = v.tokens(text, args.voice, args.language, args.pace)
        wav, _ = v.tokenizer.decode(tokens)
        if args.tokens_out:
            tokens.save(args.tokens_out)
    write_audio_atomic(args.out, wav, v.sample_rate)
    print(f"{args.out}: {len(wav) / v.sample_rate:.2f} s ({v.name}, voice {args.voice or v.voices[0]})")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from ..tts import load
    from ..tts.bench import bench_voice, markdown, write_result

    import torch

    torch.set_num_threads(args.threads)
    from ..lm.say import LMVoice, is_text_lm

    if is_text_lm(args.model):  # the autoregressive alternative (`speechtok lm say`), measured the same way
        v = LMVoice.load(args.model, speaker=args.voice, temperature=args.temperature, top_k=args.top_k or 0)
    else:
        v = load(args.model, args.weights)
    res = bench_voice(v, args.manifest, args.limit, classic=not args.no_classic, progress=not args.no_progress,
                      voice_name=args.voice)
    res["threads"] = args.threads
    write_result(res, args.out)
    print(markdown(res))
    print(json.dumps({k: round(x, 4) if isinstance(x, float) else x for k, x in
                      res["summary"].get(f"speechtok-tts ({v.name})", {}).items()}))
    return 0
