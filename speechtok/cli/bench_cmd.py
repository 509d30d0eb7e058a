"""`speechtok bench`: tokenizers side by side on the same data, measured, resumable.

    speechtok bench -t opus@6kbps -t codec2@1300 --data data/asterisk/test.jsonl --out runs/bench
    speechtok bench --speed-only -t encodec@24khz:6kbps --random-weights --threads 2
    speechtok bench --report-only --out runs/bench        # rebuild summary + report from rows.jsonl
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from ..errors import SpeechtokError
from . import exit_code


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="benchmark tokenizers: quality, content, speaker, rate, speed")
    p.add_argument("-t", "--tokenizer", action="append", default=[], metavar="NAME",
                   help="a tokenizer to run (repeat for several)")
    p.add_argument("--data", help="manifest (.jsonl), folder or audio file (default: the shipped clips)")
    p.add_argument("--out", help="output folder (rows.jsonl, summary.*, report.html, cache/): new, empty, "
                   "or one an earlier bench wrote (rerun to resume)")
    p.add_argument("--metrics", nargs="+", default=[], metavar="M",
                   help="metric or group names (default all): signal perceptual speaker content prosody, "
                        "or log_mel_l1 mrstft si_sdr pesq_wb pesq_nb stoi dnsmos speaker_sim asr f0")
    p.add_argument("--limit", type=int, help="use N utterances spread evenly over the data")
    p.add_argument("--jobs", type=int, default=2, help="processes scoring utterances (default 2)")
    p.add_argument("--asr", default="pocketsphinx",
                   help="pocketsphinx (default, English only) or whisper:<model name or local folder>")
    p.add_argument("--retry-errors", action="store_true", help="recompute rows that recorded an error")
    p.add_argument("--report-only", action="store_true", help="only rebuild the reports from OUT/rows.jsonl")
    g = p.add_argument_group("speed only")
    g.add_argument("--speed-only", action="store_true", help="only time encode/decode (prints a table)")
    g.add_argument("--random-weights", action="store_true",
                   help="build external models from their config with random weights (no download)")
    g.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    g.add_argument("--seconds", type=float, default=10.0, help="audio length to time (default 10 s)")
    g.add_argument("--repeats", type=int, default=3)
    p.set_defaults(func=_bench)


def _bench(args) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.speed_only:
        return _speed(args)
    if not args.out:
        raise SpeechtokError("--out is required (the folder for rows, reports and cached audio)")
    from ..eval import metrics as M
    from ..eval.report import build_report
    from ..fsutil import claim_output_dir

    try:
        specs = M.select(args.metrics)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    missing = M.missing_modules([] if args.report_only else specs, args.asr)
    if missing:  # before any work, not after an hour of encoding
        raise SpeechtokError(
            f"needs packages that are not installed: {'; '.join(missing)}. Install them with "
            f"pip install 'speechtok[bench]', or leave those metrics out with --metrics"
        )
    if args.report_only:
        if not (Path(args.out) / "rows.jsonl").exists():
            raise SpeechtokError(f"{args.out}: no rows.jsonl to build a report from")
        build_report(args.out)
        print(f"wrote {Path(args.out) / 'summary.md'} and {Path(args.out) / 'report.html'}")
        return 0
    if not args.tokenizer:
        raise SpeechtokError("name at least one tokenizer with -t NAME (`speechtok list` shows them)")
    if args.jobs < 1 or (args.limit is not None and args.limit < 1):
        raise SpeechtokError("--jobs and --limit must be at least 1")
    from ..eval.runner import BenchConfig, failed_inputs, pick, run_bench

    utterances = pick(_inputs(args.data), args.limit)
    out = claim_output_dir(args.out, "bench", legacy_markers=("rows.jsonl",))
    cfg = BenchConfig(tokenizers=args.tokenizer, out=out, metrics=args.metrics, jobs=args.jobs,
                      asr=args.asr, retry_errors=args.retry_errors,
                      command="speechtok " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "",
                      data=str(args.data or "the shipped clips (speechtok/assets/clips)"))
    run_bench(cfg, utterances)
    print((out / "summary.md").read_text())
    print(f"report: {out / 'report.html'}", file=sys.stderr)
    failures = failed_inputs(out, utterances)
    for path, tok, error in failures:
        print(f"speechtok bench: {error if path in error else f'{path}: {error}'} ({tok})", file=sys.stderr)
    if failures:
        print(f"bench: {len({f[0] for f in failures})} of {len(utterances)} inputs failed for at least one tokenizer; "
              f"their rows hold the error", file=sys.stderr)
    return exit_code(len({f[0] for f in failures}), len(utterances))


def _inputs(data):
    from ..data.manifest import list_inputs

    if data:
        return list_inputs(data)
    from ..data import shipped_clips

    return shipped_clips()


def _speed(args) -> int:
    import numpy as np

    from ..audio import load_audio
    from ..eval.speed import measure_speed

    if not args.tokenizer:
        raise SpeechtokError("name at least one tokenizer with -t NAME")
    if args.seconds <= 0 or args.repeats < 1:
        raise SpeechtokError("--seconds must be > 0 and --repeats at least 1")
    if args.out:
        from ..fsutil import claim_output_dir

        out = claim_output_dir(args.out, "bench", legacy_markers=("rows.jsonl", "speed.json"))
    utts = _inputs(args.data)
    # the inputs laid end to end and cut to --seconds: real speech, a fixed length for every tokenizer
    parts, sr, total = [], 16000, 0
    while total < args.seconds * sr:
        for u in utts:
            w, _ = load_audio(u.path, target_sr=sr)
            parts.append(w)
            total += len(w)
    wav = np.concatenate(parts)[: int(args.seconds * sr)]
    results = []
    for name in args.tokenizer:
        tok = _load(name, args.random_weights)
        r = measure_speed(tok, wav, sr, repeats=args.repeats)
        r["weights"] = "random" if args.random_weights and _is_external(name) else "as loaded"
        results.append(r)
        print(f"{r['tokenizer']:28s} encode RTF {r['encode_rtf']:.4f}  decode RTF "
              f"{'-' if r['decode_rtf'] is None else format(r['decode_rtf'], '.4f')}  threads {r['threads']}  "
              f"{r['kbps']:.2f} kbps  {r['tokens_per_s']:.0f} tok/s  ({r['weights']} weights)", flush=True)
    if args.out:
        from ..fsutil import write_atomic

        write_atomic(out / "speed.json", lambda tmp: tmp.write_text(json.dumps(results, indent=1) + "\n"))
    return 0


def _is_external(name: str) -> bool:
    from ..tokenizers import external

    return external.family_of(name) is not None


def _load(name: str, random_weights: bool):
    from .. import load

    if random_weights and _is_external(name):
        from ..tokenizers import external

        return external.build(name, pretrained=False)
    return load(name)
