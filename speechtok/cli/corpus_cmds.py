"""`speechtok tokenize` (a corpus -> Parquet token shards) and `speechtok detokenize` (rows -> wavs)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from ..defaults import DEFAULT_TOKENIZER
from .options import nonnegative_int, positive_float, positive_int


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "tokenize",
        help="tokenize a corpus into Parquet shards (resumable, exactly once)",
        description="Tokenize every utterance of a manifest (.jsonl) or folder into Parquet shards in OUT, "
        "with an index (index.json), a dataset card (README.md) and errors.jsonl. Rerun the same command "
        "to resume a killed job; a finished job is left as it is.",
    )
    p.add_argument("-t", "--tokenizer", default=DEFAULT_TOKENIZER,
                   help=f"tokenizer name or run folder (see `speechtok list`; default {DEFAULT_TOKENIZER})")
    p.add_argument("--data", required=True, help="manifest (.jsonl) or folder of audio files")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=nonnegative_int, default=None, help="reader processes (local) or concurrent tasks (ray); "
                   "default: one per CPU when the workers encode (local; CPUs - 1 when the main process encodes), all cluster CPUs (ray)")
    p.add_argument("--batch-seconds", type=positive_float, default=60.0,
                   help="most padded audio seconds per encoder batch (default 60)")
    p.add_argument("--batch-size", type=nonnegative_int, default=0, help="most utterances per encoder batch (default: no limit)")
    p.add_argument("--shard-size", type=positive_int, default=None, help="utterances per shard (default 1000; fixed at the first run)")
    p.add_argument("--encode-in", choices=["auto", "main", "workers"], default="auto",
                   help="local backend: encode in the main process in length-sorted batches (best for a batched "
                   "or GPU encoder), or in the reader workers (a one-by-one CPU codec on every core); "
                   "auto: main iff the tokenizer has a batched encoder")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--ray-address", default=None, help="a running Ray cluster, host:port or 'auto' (default: start one)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_tokenize)

    d = subparsers.add_parser(
        "detokenize",
        help="decode rows of token shards back to audio",
        description="Decode the rows with the given ids from the shards in DIR to OUT/<id>.wav. Like decode, "
        "a wav that already exists is skipped unless --overwrite.",
    )
    d.add_argument("dir", help="a folder written by `speechtok tokenize`")
    d.add_argument("--ids", nargs="+", required=True, help="utterance ids")
    d.add_argument("--out", required=True, help="folder for the wav files")
    d.add_argument("--overwrite", action="store_true", help="replace wav files that already exist")
    d.set_defaults(func=run_detokenize)


def run_tokenize(args) -> int:
    from ..corpus import Batching, JobOptions, run_job
    from ..corpus.job import exit_code

    if args.backend == "ray":  # before any work, not after the plan is written
        from importlib.util import find_spec

        from ..errors import MissingDependencyError

        if find_spec("ray") is None:
            raise MissingDependencyError("--backend ray needs Ray: pip install 'speechtok[ray]'")
    workers = args.workers
    if workers is None and args.backend == "ray":
        workers = 0  # all the cluster's CPUs; the local backend picks its own default (local.default_workers)
    opts = JobOptions(
        tokenizer=args.tokenizer,
        data=args.data,
        out=args.out,
        workers=workers,
        batching=Batching(seconds=args.batch_seconds, size=args.batch_size),
        shard_size=args.shard_size,
        backend=args.backend,
        encode_in=args.encode_in,
        ray_address=args.ray_address,
        progress=not args.no_progress,
        command="speechtok " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["tokenize"] else "",
    )
    return exit_code(run_job(opts))


def run_detokenize(args) -> int:
    import speechtok

    from ..audio import write_audio_atomic
    from ..corpus import find_rows, tokens_from_row
    from ..errors import SpeechtokError
    from ..fsutil import inside, writable_dir
    from . import exit_code

    src = Path(args.dir)
    if not (src / "plan.json").exists():
        raise SpeechtokError(f"{src}: not a folder written by `speechtok tokenize` (no plan.json)")
    try:
        plan = json.loads((src / "plan.json").read_text())
        spec = plan["tokenizer_spec"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SpeechtokError(f"{src / 'plan.json'}: unreadable plan ({e})") from None
    ids = list(dict.fromkeys(args.ids))
    targets = {uid: inside(args.out, uid, ".wav") for uid in ids}  # ids are data: none may leave --out
    out = writable_dir(args.out)
    # The spec the job was run with (a name, or a run folder's absolute path) loads the tokenizer
    # that made the rows; rows carry no model id of their own, the plan does.
    tok = speechtok.load(spec)
    if plan.get("model_id") not in (None, tok.model_id):
        raise SpeechtokError(f"{spec} is now model {tok.model_id}, but {src} was made by model {plan['model_id']}")
    rows = find_rows(src, ids)
    failed = skipped = 0
    for uid in ids:
        dest = targets[uid]
        if uid not in rows:
            failed += 1
            print(f"speechtok detokenize: no row with id {uid!r} in {src}", file=sys.stderr)
        elif dest.exists() and not args.overwrite:
            skipped += 1
        else:
            wav, sr = tok.decode(tokens_from_row(rows[uid], plan.get("model_id")))
            write_audio_atomic(dest, wav, sr)
            print(f"{uid} -> {dest} ({len(wav) / sr:.2f} s at {sr} Hz)")
    if skipped:
        print(f"detokenize: {skipped} skipped (already in {out}; --overwrite redoes them)", file=sys.stderr)
    return exit_code(failed, len(ids))
