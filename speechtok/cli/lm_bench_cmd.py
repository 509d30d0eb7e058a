"""`speechtok lm bench`, `speechtok lm lexical` and `speechtok lm fortunes` (docs/lm.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import SpeechtokError
from .options import int_range, positive_int


def register_bench(sub) -> None:
    b = sub.add_parser(
        "bench", help="LM-friendliness of tokenizers: bits/s, bits/token, perplexity, n-gram, lexical test",
        description="For each -t SPEC (NAME[+layout=first|flat|delay][+codebooks=N][+skip=N][+bpe=V], or the phone "
        "topline 'phones' / 'phones@50hz'): tokenize the manifests, train the same fixed-budget LM, score the test "
        "split (and the lexical / syntactic tests, with their duration controls). Results are merged into "
        "OUT/results.jsonl and OUT/results.md; specs already there are skipped unless --redo.",
    )
    b.add_argument("-t", "--tokenizer", dest="specs", action="append", required=True, metavar="SPEC")
    b.add_argument("--train", action="append", required=True, help="training manifest(s) (repeatable)")
    b.add_argument("--valid", help="validation manifest")
    b.add_argument("--test", required=True, help="held-out test manifest")
    b.add_argument("--lexical", help="lexical test folder (from `speechtok lm lexical build`)")
    b.add_argument("--syntactic", help="syntactic test folder (from `speechtok lm syntactic build`)")
    b.add_argument("--config", default=None, help="the LM budget (default: speechtok's configs/lm-tiny.yaml)")
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override the LM config")
    b.add_argument("--continuation", metavar="MANIFEST",
                   help="also prompt with 2.5 s of each utterance of MANIFEST lasting >= 2.5 s (at most 12), sample 3 s, "
                   "decode, and measure pocketsphinx words/s and Resemblyzer similarity (added to rows already done too)")
    b.add_argument("--speculative", action="store_true",
                   help="also measure greedy speculative decoding (n-gram draft) against plain greedy decoding: "
                   "identical output and CPU speed-up, 3 s continuations of 4 test prompts (added to rows already done too)")
    b.add_argument("--ngram-order", type=int_range(1, 10), default=3)
    b.add_argument("--work", type=Path, default=Path("runs/lm-bench"), help="tokens and LM runs (cached, resumable)")
    b.add_argument("--out", type=Path, default=Path("runs/lm-bench/results"), help="results.jsonl, results.md, lexical items")
    b.add_argument("--workers", type=int_range(0), default=1, help="tokenizer worker processes")
    b.add_argument("--redo", action="store_true", help="recompute specs already in OUT/results.jsonl")
    b.add_argument("--redo-extras", action="store_true",
                   help="recompute the --continuation / --speculative measures given, for rows that have them already")
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=run_bench)

    lx = sub.add_parser("lexical", help="build the spoken lexical test (word / non-word pairs, espeak-ng voices)")
    lsub = lx.add_subparsers(dest="lexical_command", metavar="ACTION")
    lx.set_defaults(func=lambda args: (lx.print_help(), 2)[1])
    build = lsub.add_parser("build", help="make pairs from wamerican and synthesize them (resumable)")
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--pairs", type=positive_int, default=800)
    build.add_argument("--train-text", action="append", default=[], metavar="MANIFEST",
                       help="manifests whose `text` is the LM's training text (for the word-frequency breakdown)")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--no-progress", action="store_true")
    build.set_defaults(func=run_lexical_build)

    sx = sub.add_parser("syntactic", help="build the spoken syntactic test (sBLIMP-style sentence pairs, espeak-ng voices)")
    ssub = sx.add_subparsers(dest="syntactic_command", metavar="ACTION")
    sx.set_defaults(func=lambda args: (sx.print_help(), 2)[1])
    sbuild = ssub.add_parser("build", help="make grammatical / ungrammatical sentence pairs from templates and synthesize them (resumable)")
    sbuild.add_argument("--out", type=Path, required=True)
    sbuild.add_argument("--per-phenomenon", type=positive_int, default=40, help="pairs of each of the 6 phenomena (default 40)")
    sbuild.add_argument("--seed", type=int, default=0)
    sbuild.add_argument("--no-progress", action="store_true")
    sbuild.set_defaults(func=run_syntactic_build)

    f = sub.add_parser("fortunes", help="synthetic training speech: Debian fortunes read by espeak-ng and flite voices")
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--per-voice", type=positive_int, default=60, help="fortunes per voice (6 voices; default 60)")
    f.add_argument("--voices", nargs="+", metavar="VOICE",
                   help="read each fortune once, dealt to these voices in turn (ids of speechtok.data.synthetic.VOICES "
                   "or espeak_<voice>; 'large' = the larger bench tier's 12 English voices)")
    f.add_argument("--jobs", type=positive_int, default=1, help="synthesis processes at once (with --voices)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--no-progress", action="store_true")
    f.set_defaults(func=run_fortunes)


def run_bench(args: argparse.Namespace) -> int:
    from ..fsutil import claim_output_dir, write_atomic
    from ..lm.bench import Spec, merge_manifests, read_results, render_table, run_spec, update_results

    try:
        specs = [Spec.parse(s) for s in args.specs]
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    for m in args.train + [args.test] + ([args.valid] if args.valid else []):
        if not Path(m).exists():
            raise SpeechtokError(f"{m}: no such manifest (make the corpus with `speechtok data asterisk`)")
    if args.lexical and not (Path(args.lexical) / "manifest.jsonl").exists():
        raise SpeechtokError(f"{args.lexical}: no lexical test there (build it with `speechtok lm lexical build`)")
    if args.syntactic and not (Path(args.syntactic) / "manifest.jsonl").exists():
        raise SpeechtokError(f"{args.syntactic}: no syntactic test there (build it with `speechtok lm syntactic build`)")
    args.config = _bench_config(args.config)
    # both folders are this command's own: a user's folder (or a foreign results.jsonl) is refused
    # before any work, and folders of earlier versions are known by what they hold
    done_path = args.out / "results.jsonl"
    claim_output_dir(args.work, "lm bench", legacy_markers=("tokens", "lm"))
    claim_output_dir(args.out, "lm bench", legacy_markers=("results.jsonl",))
    done_rows = read_results(done_path)
    train = merge_manifests(args.train, args.work)
    done = {r["spec"] for r in done_rows}
    rows = None
    for spec in specs:
        if spec.text in done and not args.redo:
            row = next(r for r in done_rows if r["spec"] == spec.text)
            extras = _extras(spec, args, row)
            if extras:
                row.update(extras)
                rows = update_results(args.out, row)
                print(f"{spec.text}: added {', '.join(extras)}")
            else:
                print(f"{spec.text}: already in {done_path} (--redo to recompute)")
            continue
        print(f"== {spec.text}")
        try:
            result = run_spec(spec, config=args.config, overrides=args.overrides, train=train, valid=args.valid, test=args.test,
                              lexical=args.lexical, syntactic=args.syntactic, work=args.work, out=args.out, workers=args.workers,
                              ngram_order=args.ngram_order, progress=not args.no_progress)
        except (FileNotFoundError, ValueError) as e:
            raise SpeechtokError(f"{spec.text}: {e}") from None
        result.update(_extras(spec, args, result))
        result["command"] = "speechtok " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["lm"] else ""
        rows = update_results(args.out, result)
        t = result["test"]
        print(f"{spec.text}: {t['bits_per_second']:.0f} bits/s, {t['bits_per_token']:.3f} bits/token, "
              f"{t['steps_per_second']:.1f} AR steps/s" + (f", lexical {result['lexical']['norm']['all']['acc']:.1f}%" if "lexical" in result else ""))
    if rows is None:
        rows = read_results(done_path)
    if rows:
        table = render_table(rows, args.out / "lexical_items")
        write_atomic(args.out / "results.md", lambda tmp: tmp.write_text(table))
        print(table)
    return 0


def _bench_config(config: str | None) -> Path:
    """The LM budget: the given file, else the repository's configs/lm-tiny.yaml (wherever the
    command runs from), else the copy installed with the package."""
    import speechtok

    if config:
        if not Path(config).is_file():
            raise SpeechtokError(f"{config}: no such config file")
        return Path(config)
    here = Path(speechtok.__file__).resolve().parent
    for candidate in (here.parent / "configs" / "lm-tiny.yaml", here / "configs" / "lm-tiny.yaml"):
        if candidate.is_file():
            return candidate
    raise SpeechtokError("configs/lm-tiny.yaml not found; give --config")


def _extras(spec, args, row: dict) -> dict:
    """The optional measures asked for and not yet in ``row``: continuation, speculative decoding."""
    from ..lm import SpeechLM

    out = {}
    if args.continuation and ("continuation" not in row or args.redo_extras):
        from ..lm.continuation import continuation_eval

        print(f"{spec.text}: continuation on {args.continuation}")
        out["continuation"] = continuation_eval(SpeechLM.load(args.work / "lm" / spec.slug), args.continuation)
    if args.speculative and ("speculative" not in row or args.redo_extras):
        from ..lm.bench import speculative_row

        print(f"{spec.text}: speculative decoding")
        out["speculative"] = speculative_row(SpeechLM.load(args.work / "lm" / spec.slug), args.work, spec)
    return out


def run_lexical_build(args: argparse.Namespace) -> int:
    from ..data.manifest import list_inputs
    from ..lm.lexical import build_pairs, synthesize_pairs

    try:
        texts = [u.text or "" for m in args.train_text for u in list_inputs(m)]
        pairs = build_pairs(args.pairs, texts, seed=args.seed)
    except (FileNotFoundError, RuntimeError) as e:
        raise SpeechtokError(str(e)) from None
    if len(pairs) < args.pairs:
        print(f"note: {len(pairs)} pairs made (asked for {args.pairs})")
    manifest = synthesize_pairs(pairs, args.out, progress=not args.no_progress)
    print(f"{len(pairs)} pairs; manifest {manifest}")
    return 0


def run_syntactic_build(args: argparse.Namespace) -> int:
    from ..lm.syntactic import build_pairs, synthesize_pairs

    pairs = build_pairs(args.per_phenomenon, seed=args.seed)
    try:
        manifest = synthesize_pairs(pairs, args.out, progress=not args.no_progress)
    except (FileNotFoundError, RuntimeError) as e:
        raise SpeechtokError(str(e)) from None
    print(f"{len(pairs)} pairs; manifest {manifest}")
    return 0


def run_fortunes(args: argparse.Namespace) -> int:
    from ..lm.synthetic import LARGE_TIER_VOICES, build_reading_corpus, build_synthetic_corpus

    try:
        if args.voices:
            voices = LARGE_TIER_VOICES if args.voices == ["large"] else tuple(args.voices)
            manifest = build_reading_corpus(args.out, voices, per_voice=args.per_voice, seed=args.seed, jobs=args.jobs,
                                            progress=not args.no_progress)
        else:
            manifest = build_synthetic_corpus(args.out, per_voice=args.per_voice, seed=args.seed, progress=not args.no_progress)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        raise SpeechtokError(str(e)) from None
    print(f"manifest {manifest}")
    return 0
