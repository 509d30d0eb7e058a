"""`speechtok lm train | score | sample | bench | lexical`: token language models (docs/lm.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import SpeechtokError
from .options import float_range, nonnegative_float, nonnegative_int, positive_float, positive_int

#: the longest continuation `lm sample` makes (a typo such as 1e9 is refused, not run for days)
MAX_SAMPLE_SECONDS = 600.0


def register(subparsers) -> None:
    lm = subparsers.add_parser(
        "lm", help="token language models: train, score, sample, LM-friendliness benchmarks",
        description="Language models over the tokens of any tokenizer (docs/lm.md).",
    )
    sub = lm.add_subparsers(dest="lm_command", metavar="LM_COMMAND")
    lm.set_defaults(func=lambda args: (lm.print_help(), 2)[1])

    t = sub.add_parser("train", help="train a token LM on Parquet token shards (resumable)",
                       description="Train a decoder-only transformer on the shards of `speechtok tokenize`. "
                       "The run folder (config.yaml + model.safetensors [+ bpe.json]) loads with SpeechLM.load.")
    t.add_argument("config", nargs="?", type=Path, help="YAML config (see configs/lm-tiny.yaml); optional with --train")
    t.add_argument("--train", help="token folder to train on (sets data.train)")
    t.add_argument("--valid", help="held-out token folder (sets data.valid)")
    t.add_argument("--out", type=Path, help="run folder (default: runs/lm-<config name>)")
    t.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.ckpt")
    t.add_argument("--steps", type=positive_int, help="override train.steps")
    t.add_argument("--max-minutes", type=positive_float, help="stop (with a checkpoint) after this many minutes")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value, e.g. --set data.layout=delay --set model.layers=2 (repeatable)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=run_train)

    s = sub.add_parser("score", help="held-out likelihood of token shards: bits/token, bits/s, perplexity",
                       description="Score every utterance of a token folder with a trained LM; print the totals "
                       "(bits per second of audio with a bootstrap 95%% CI, bits per token, perplexity, AR steps/s) "
                       "and optionally write one JSON line per utterance.")
    s.add_argument("run", type=Path, help="LM run folder")
    s.add_argument("--data", required=True, help="token folder (from `speechtok tokenize` with the LM's tokenizer)")
    s.add_argument("--out", type=Path, help="write per-utterance rows (JSON Lines) here (an existing file is kept unless --overwrite)")
    s.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    s.add_argument("--limit", type=nonnegative_int, default=0, help="score at most this many utterances")
    s.set_defaults(func=run_score)

    g = sub.add_parser("sample", help="continue a prompt (or start from nothing) and decode to audio",
                       description="Encode a prompt wav with the LM's tokenizer, sample a continuation, decode it.")
    g.add_argument("run", type=Path, help="LM run folder")
    g.add_argument("--prompt", type=Path, help="prompt audio (default: no prompt)")
    g.add_argument("--prompt-seconds", type=positive_float, default=3.0, help="use this much of the prompt (default 3)")
    g.add_argument("--seconds", type=float_range(0, MAX_SAMPLE_SECONDS, lo_open=True), default=3.0,
                   help=f"seconds to generate (default 3, at most {MAX_SAMPLE_SECONDS:g})")
    g.add_argument("--temperature", type=nonnegative_float, default=0.8, help="0 = greedy (default 0.8)")
    g.add_argument("--top-k", type=nonnegative_int, default=0, help="sample among the k most likely ids (0: all)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--speculative", action="store_true",
                   help="greedy speculative decoding: the same output as --temperature 0 in fewer LM passes (see --draft)")
    g.add_argument("--draft", default="auto", metavar="mtp|ngram|RUN",
                   help="what drafts for --speculative: mtp (the LM's multi-token-prediction heads, from `speechtok lm mtp` "
                   "or model.mtp_heads), ngram (a Kneser-Ney 4-gram fitted on the LM's training shards; single-stream "
                   "layouts), or the run folder of a smaller LM over the same tokens and layout. Default: mtp when the "
                   "LM has heads, else ngram")
    g.add_argument("--draft-k", type=positive_int, default=4, help="most steps drafted per LM pass; the draft length adapts below it (default 4)")
    g.add_argument("--out", type=Path, required=True, help="output wav (prompt + continuation); an existing file is kept unless --overwrite")
    g.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    g.set_defaults(func=run_sample)

    y = sub.add_parser("say", help="text to speech with an LM trained with text (data.text): phones, then tokens",
                       description="Read TEXT (or - for stdin) with an LM trained with a text prefix (data.text; "
                       "docs/tts.md, 'the autoregressive alternative'), sentence by sentence, and decode the tokens.")
    y.add_argument("run", type=Path, help="LM run folder trained with data.text")
    y.add_argument("text", help="text to speak, or - to read stdin")
    y.add_argument("--language", help="language of the text (default: the LM's first training language)")
    y.add_argument("--voice", help="speaker of an LM trained on several (default: the one with most training utterances)")
    y.add_argument("--temperature", type=nonnegative_float, default=0.0, help="0 = greedy (default)")
    y.add_argument("--top-k", type=nonnegative_int, default=0, help="sample among the k most likely ids (0: all)")
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--max-seconds", type=float_range(0, MAX_SAMPLE_SECONDS, lo_open=True), default=12.0,
                   help="longest speech per sentence (default 12; also capped by the LM's context)")
    y.add_argument("--speculative", action="store_true", help="greedy speculative decoding (identical to greedy; see --draft)")
    y.add_argument("--draft", default="auto", metavar="mtp|ngram|RUN", help="what drafts for --speculative (as in `lm sample`)")
    y.add_argument("--draft-k", type=positive_int, default=4, help="most steps drafted per LM pass (default 4)")
    y.add_argument("--tokens-out", type=Path, help="also save the generated tokens of the whole text (.npz)")
    y.add_argument("--out", "-o", type=Path, required=True, help="output wav; an existing file is kept unless --overwrite")
    y.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    y.set_defaults(func=run_say)

    m = sub.add_parser("mtp", help="add multi-token-prediction heads to a trained LM (drafts for --speculative)",
                       description="Train MTP heads (Medusa style) on a frozen LM; they predict the ids 2, 3, ... steps "
                       "ahead from the LM's last hidden state and are saved as RUN/mtp.safetensors, where "
                       "`speechtok lm sample --speculative` finds them. With --distill N (default) the heads learn "
                       "the LM's own greedy continuations of N prompts, which is what greedy speculative decoding "
                       "needs; --distill 0 trains them on the data itself.")
    m.add_argument("run", type=Path, help="LM run folder")
    m.add_argument("--heads", type=positive_int, default=3, help="number of heads (steps drafted per LM pass; default 3)")
    m.add_argument("--steps", type=positive_int, default=300, help="optimizer steps (default 300)")
    m.add_argument("--distill", type=nonnegative_int, default=64, help="greedy continuations to learn from (0: the data itself; default 64)")
    m.add_argument("--data", help="token folder (default: the LM's training shards)")
    m.add_argument("--valid", help="held-out token folder: report each head's top-1 accuracy on it")
    m.add_argument("--batch-size", type=positive_int, default=8)
    m.add_argument("--lr", type=positive_float, default=2e-3)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--force", action="store_true", help="replace heads already in RUN/mtp.safetensors")
    m.add_argument("--no-progress", action="store_true")
    m.set_defaults(func=run_mtp)

    v = sub.add_parser("speedup", help="measure plain vs speculative greedy decoding (tokens/s, acceptance, identical output)",
                       description="Greedy continuations of the longest utterances of a token folder, plain and with each "
                       "draft at each draft length and thread count: CPU seconds (process time), AR steps per second, "
                       "speed-up, share of drafted steps kept, and whether the output was identical. One JSON line per "
                       "measurement (appended to --out); --table renders every line of --out as Markdown.")
    v.add_argument("run", type=Path, help="LM run folder")
    v.add_argument("--data", required=True, help="token folder to take prompts from (held-out data)")
    v.add_argument("--draft", action="append", default=[], metavar="mtp|ngram|RUN", help="draft to measure (repeatable)")
    v.add_argument("--k", type=positive_int, nargs="+", default=[1, 2, 3, 4], help="draft lengths (fixed) to measure")
    v.add_argument("--adaptive", action="store_true", help="also measure the adaptive draft length (up to the largest --k)")
    v.add_argument("--threads", type=positive_int, nargs="+", default=[1], help="torch thread counts to measure")
    v.add_argument("--prompts", type=positive_int, default=4)
    v.add_argument("--prompt-seconds", type=positive_float, default=2.0)
    v.add_argument("--seconds", type=float_range(0, MAX_SAMPLE_SECONDS, lo_open=True), default=3.0, help="seconds of audio generated per prompt")
    v.add_argument("--label", default="", help="name of this LM in the table (default: the run folder's name)")
    v.add_argument("--out", type=Path, help="append one JSON line per measurement here")
    v.add_argument("--table", type=Path, help="write every row of --out as a Markdown table here")
    v.set_defaults(func=run_speedup)

    c = sub.add_parser("passcost", help="CPU cost of one LM pass over 1..b steps at several LM sizes (random weights)",
                       description="How speculative decoding scales with the LM's size: the CPU seconds of one pass over "
                       "a block of b new steps (on a 128-step KV cache) and of 4 MTP heads, for LMs built from a config "
                       "with random weights (a pass costs the same whatever the weights). With --acceptance, the "
                       "speed-up each size would reach at the steps-per-pass measured by `lm speedup` (MTP draft).")
    c.add_argument("--hidden", type=int, nargs="+", required=True, help="model widths (heads = width / 64)")
    c.add_argument("--layers", type=int, nargs="+", required=True, help="layer counts, one per --hidden")
    c.add_argument("--vocab", type=int, default=4227, help="vocabulary (default 4227: 3 flat codebooks of speechtok-base + 3)")
    c.add_argument("--blocks", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    c.add_argument("--mtp-heads", type=int, default=4)
    c.add_argument("--threads", type=int, nargs="+", default=[1])
    c.add_argument("--acceptance", type=Path, help="an `lm speedup` --out file; with --acceptance-lm, project the speed-up")
    c.add_argument("--acceptance-lm", default="", help="the LM label whose MTP rows give the steps per pass")
    c.add_argument("--out", type=Path, required=True, help="JSON results; a Markdown table is written beside it (.md)")
    c.set_defaults(func=run_passcost)

    from .lm_bench_cmd import register_bench

    register_bench(sub)


def run_train(args: argparse.Namespace) -> int:
    from ..fsutil import claim_output_dir
    from ..lm.config import apply_overrides, lm_config_from_dict, load_lm_config
    from ..lm.train import LMTrainer

    overrides = list(args.overrides)
    if args.train:
        overrides.append(f"data.train={args.train}")
    if args.valid:
        overrides.append(f"data.valid={args.valid}")
    try:
        if args.config:
            if not args.config.exists():
                raise SpeechtokError(f"{args.config}: no such config file")
            cfg = load_lm_config(args.config, overrides)
        else:
            cfg = lm_config_from_dict(apply_overrides({}, overrides))
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    if not cfg.data.train:
        raise SpeechtokError("no training data: give --train TOKEN_FOLDER or data.train in the config")
    if args.steps is not None:
        cfg.train.steps = args.steps
    if args.max_minutes is not None:
        cfg.train.max_minutes = args.max_minutes
    run_dir = args.out or Path("runs") / f"lm-{args.config.stem if args.config else 'tiny'}"
    if (run_dir / "checkpoints" / "last.ckpt").exists() and not args.resume:
        raise SpeechtokError(f"{run_dir}: a run already exists there; pass --resume to continue it or choose --out")
    # a new folder, an empty one or an earlier `lm train` run (older runs: their checkpoint);
    # never a user's folder or another command's output
    claim_output_dir(run_dir, "lm train", legacy_markers=("checkpoints/last.ckpt",))
    try:
        trainer = LMTrainer(cfg, run_dir, progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as e:
        raise SpeechtokError(str(e)) from None
    if args.resume and trainer.resume():
        print(f"resumed {run_dir} at step {trainer.step}")
    model = trainer.model
    print(f"{cfg.vocab['tokenizer']}: layout {cfg.data.layout}, streams {trainer.layout.num_streams}, "
          f"vocab {trainer.layout.vocab_sizes}, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
    trainer.fit()
    print(f"done: step {trainer.step}; run folder {run_dir}")
    return 0


def _load_lm(run: Path):
    from ..lm import SpeechLM

    try:
        return SpeechLM.load(run)
    except (FileNotFoundError, ValueError) as e:
        raise SpeechtokError(str(e)) from None


def run_score(args: argparse.Namespace) -> int:
    from ..fsutil import check_new_file, write_atomic
    from ..lm.data import iter_rows, token_folder_info
    from ..lm.measures import likelihood_summary

    if args.out:
        check_new_file(args.out, args.overwrite)  # before any work
    lm = _load_lm(args.run)
    try:
        info = token_folder_info(args.data)
    except (FileNotFoundError, ValueError) as e:
        raise SpeechtokError(str(e)) from None
    if info["tokenizer"] != lm.tokenizer:
        raise SpeechtokError(f"{args.data}: tokenized with {info['tokenizer']}, but the LM models {lm.tokenizer}")
    try:
        rows = list(iter_rows(args.data, limit=args.limit))
        scores = lm.score([r["codes"] for r in rows])
    except ValueError as e:
        raise SpeechtokError(f"{args.data}: {e}") from None
    per_utt = [{"id": r["id"], "duration": r["duration"], **sc} for r, sc in zip(rows, scores)]
    summary = likelihood_summary(per_utt)
    if args.out:
        text = "".join(json.dumps(u) + "\n" for u in per_utt)
        write_atomic(args.out, lambda tmp: tmp.write_text(text))
    print(json.dumps({"lm": str(args.run), "data": args.data, **summary}, indent=1))
    return 0


def run_sample(args: argparse.Namespace) -> int:
    import numpy as np

    import speechtok

    from ..audio import load_audio, write_audio_atomic
    from ..fsutil import check_new_file
    from ..tokens import Tokens

    check_new_file(args.out, args.overwrite)  # before any work
    lm = _load_lm(args.run)
    tok = speechtok.load(lm.tokenizer)
    prompt_codes, prompt_wav = None, np.zeros(0, np.float32)
    if args.prompt:
        wav, sr = load_audio(args.prompt, tok.sample_rate)
        prompt_wav = wav[: int(args.prompt_seconds * sr)]
        prompt_codes = tok.encode(prompt_wav, sr).codes
    frames = max(1, int(round(args.seconds * lm.frame_rate)))
    if args.speculative:
        from ..lm.speculative import make_draft, speculative_generate

        try:
            draft = make_draft(lm, args.draft)
            codes, stats = speculative_generate(lm, prompt_codes, frames, draft, k=args.draft_k)
        except (FileNotFoundError, ValueError) as e:
            raise SpeechtokError(f"speculative decoding: {e}") from None
        print(f"speculative ({draft.name} draft): {stats['steps']} AR steps in {stats['forwards']} LM passes "
              f"({stats['accepted']} of {stats['proposed']} drafted steps kept)")
    else:
        codes = lm.generate(prompt_codes, frames, temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    full = codes if prompt_codes is None else np.concatenate([np.asarray(prompt_codes)[: codes.shape[0]], codes], axis=1)
    if full.shape[0] < tok.num_codebooks:  # an LM over the first codebooks: decode those only
        sizes = tok.codebook_sizes[: full.shape[0]]
    else:
        sizes = tok.codebook_sizes
    n = int(round(full.shape[1] / lm.frame_rate * tok.sample_rate))
    # the codes come from this tokenizer's own codebooks: they carry its model id (no false warning)
    tokens = Tokens(full, tok.name, tok.version, lm.frame_rate, sizes, n, tok.sample_rate, model_id=tok.model_id)
    audio, sr = tok.decode(tokens)
    write_audio_atomic(args.out, audio, sr)
    print(f"{args.out}: {len(prompt_wav) / tok.sample_rate:.2f} s prompt + {frames / lm.frame_rate:.2f} s sampled ({lm.tokenizer})")
    return 0


def run_say(args: argparse.Namespace) -> int:
    import sys
    import time

    import numpy as np

    from ..audio import write_audio_atomic
    from ..fsutil import check_new_file
    from ..lm.say import LMVoice
    from ..tts.frontend import TextError

    text = sys.stdin.read() if args.text == "-" else args.text
    check_new_file(args.out, args.overwrite)
    if args.tokens_out:
        check_new_file(args.tokens_out, args.overwrite)
    lm = _load_lm(args.run)
    try:
        draft = None
        if args.speculative:
            from ..lm.speculative import make_draft

            draft = make_draft(lm, args.draft)
        voice = LMVoice(lm, speaker=args.voice, temperature=args.temperature, top_k=args.top_k, max_seconds=args.max_seconds,
                        draft=draft, draft_k=args.draft_k, seed=args.seed)
        t0 = time.perf_counter()
        codes, steps, forwards = [], 0, 0
        for s in voice.sentences(text, args.language):
            codes.append(voice.codes(s, args.language, args.voice))
            steps += voice.last_stats.get("steps", 0)
            forwards += voice.last_stats.get("forwards", 0)
        wav = np.concatenate([voice.decode(c) for c in codes])
        seconds = time.perf_counter() - t0
    except (TextError, ValueError, FileNotFoundError) as e:
        raise SpeechtokError(f"{args.run}: {e}") from None
    write_audio_atomic(args.out, wav, voice.sample_rate)
    if args.tokens_out:
        from ..fsutil import write_atomic

        full = np.concatenate(codes, axis=1)
        write_atomic(args.tokens_out, lambda tmp: np.savez(open(tmp, "wb"), codes=full, frame_rate=lm.frame_rate,
                                                           tokenizer=lm.tokenizer))
    how = f", {steps} AR steps in {forwards} LM passes" + (f" ({draft.name} draft)" if draft is not None else "")
    print(f"{args.out}: {len(wav) / voice.sample_rate:.2f} s from {len(codes)} sentence(s) in {seconds:.2f} s "
          f"({lm.cfg.name} over {lm.tokenizer}{how})")
    return 0


def run_mtp(args: argparse.Namespace) -> int:
    import json

    from ..lm.mtp import MTP_FILE, save_mtp_heads, train_mtp_heads

    lm = _load_lm(args.run)
    if (args.run / MTP_FILE).exists() and not args.force:
        raise SpeechtokError(f"{args.run / MTP_FILE}: heads already exist; pass --force to replace them")
    try:
        heads, summary = train_mtp_heads(lm, heads=args.heads, steps=args.steps, data=args.data, valid=args.valid,
                                         distill=args.distill, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                         progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as e:
        raise SpeechtokError(str(e)) from None
    path = save_mtp_heads(args.run, heads, summary)
    print(json.dumps({"mtp": str(path), **summary}))
    return 0


def run_speedup(args: argparse.Namespace) -> int:
    import json
    import sys

    import torch

    from ..fsutil import write_atomic
    from ..lm.speculative import longest_prompts, make_draft, measure_speedup, render_speedup

    lm = _load_lm(args.run)
    if not args.draft:
        raise SpeechtokError("give at least one --draft (mtp, ngram or an LM run folder)")
    try:
        prompts = longest_prompts(args.data, lm, args.prompts, args.prompt_seconds)
        drafts = [(name, make_draft(lm, name)) for name in args.draft]
    except (FileNotFoundError, ValueError) as e:
        raise SpeechtokError(str(e)) from None
    frames = int(round(args.seconds * lm.frame_rate))
    label = args.label or args.run.name
    before = torch.get_num_threads()

    def save(row: dict) -> None:  # after every measurement, so that an interrupted run keeps what it measured
        old = args.out.read_text() if args.out.exists() else ""
        text = old + json.dumps(row) + "\n"
        write_atomic(args.out, lambda tmp: tmp.write_text(text))
        if args.table:
            table = render_speedup([json.loads(line) for line in text.splitlines() if line.strip()])
            write_atomic(args.table, lambda tmp: tmp.write_text(table))

    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, draft in drafts:
            settings = [(k, False) for k in args.k] + ([(max(args.k), True)] if args.adaptive else [])
            for k, adaptive in settings:
                r = measure_speedup(lm, prompts, frames, draft, k=k, adaptive=adaptive)
                row = {"lm": label, "tokenizer": lm.tokenizer, "layout": lm.layout.kind, "parameters": lm.model.num_parameters(),
                       "threads": threads, "draft_spec": name if name in ("mtp", "ngram") else Path(name).name, **r,
                       "command": "speechtok " + " ".join(sys.argv[1:])}
                print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != "command"}), flush=True)
                if args.out:
                    save(row)
    torch.set_num_threads(before)
    return 0


def run_passcost(args: argparse.Namespace) -> int:
    import json

    import torch

    from ..fsutil import write_atomic
    from ..lm.config import LMModelConfig
    from ..lm.speculative import pass_costs

    if len(args.hidden) != len(args.layers):
        raise SpeechtokError("give one --layers value per --hidden value")
    per_pass = {}  # k -> steps per LM pass measured with the MTP draft
    if args.acceptance:
        for line in args.acceptance.read_text().splitlines():
            r = json.loads(line)
            if r["lm"] == args.acceptance_lm and r["draft"] == "mtp" and r["threads"] == 1 and not r.get("adaptive"):
                per_pass[r["k"]] = r["ids_per_forward"]
    rows = []
    before = torch.get_num_threads()
    for threads in args.threads:
        torch.set_num_threads(threads)
        for hidden, layers in zip(args.hidden, args.layers):
            cfg = LMModelConfig(hidden=hidden, layers=layers, heads=max(1, hidden // 64), context=256)
            r = pass_costs(cfg, [args.vocab], args.blocks, args.mtp_heads)
            t1 = r["block_s"][1]
            row = {"hidden": hidden, "layers": layers, "threads": threads, **r,
                   "ceiling": {b: b * t1 / t for b, t in r["block_s"].items()}}
            if per_pass:
                row["projected"] = {k: ipf * t1 / (r["block_s"][k + 1] + r["mtp_s"] * k / args.mtp_heads)
                                    for k, ipf in per_pass.items() if k + 1 in r["block_s"]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    torch.set_num_threads(before)
    write_atomic(args.out, lambda tmp: tmp.write_text(json.dumps(rows, indent=1)))
    ks = sorted(per_pass)
    lines = ["| LM (random weights) | params | threads | ms per pass, 1 step | ms, " + f"{max(args.blocks)} steps | "
             + "4 MTP heads, ms | " + " | ".join(f"speed-up at k={k} ({per_pass[k]:.2f} steps/pass)" for k in ks) + " |",
             "|---|---:|---:|---:|---:|---:|" + "---:|" * len(ks)]
    for r in rows:
        proj = " | ".join(f"{r['projected'][k]:.2f}×" for k in ks)
        lines.append(f"| {r['hidden']}×{r['layers']} | {r['parameters'] / 1e6:.1f} M | {r['threads']} | {r['block_s'][1] * 1e3:.2f} | "
                     f"{r['block_s'][max(args.blocks)] * 1e3:.2f} | {r.get('mtp_s', 0) * 1e3:.2f} | " + (proj + " |" if ks else ""))
    table = "\n".join(lines) + "\n"
    write_atomic(args.out.with_suffix(".md"), lambda tmp: tmp.write_text(table))
    return 0
