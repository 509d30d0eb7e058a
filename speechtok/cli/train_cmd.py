"""`speechtok train CONFIG.yaml [--resume]`"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ..errors import SpeechtokError


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a codec from a YAML config",
        description="Train a speechtok codec. The run folder (config + safetensors weights) is itself "
        "loadable: speechtok.load(RUN_DIR). Same command on CPU and GPU (Lightning Fabric).",
    )
    p.add_argument("config", type=Path, nargs="?", help="YAML config (see configs/); not needed with --init MODEL --data")
    p.add_argument("--out", type=Path, help="run folder: new, empty, or an earlier run of this command "
                   "(default: runs/<config file name>)")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.ckpt")
    p.add_argument("--steps", type=int, help="override train.steps")
    p.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this many minutes")
    p.add_argument("--accelerator", help="override train.accelerator (cpu, gpu, auto)")
    p.add_argument("--precision", help="override train.precision (32-true, bf16-mixed, ...)")
    p.add_argument("--devices", help="override train.devices")
    p.add_argument("--batch-size", type=int, help="override train.batch_size")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override any config value, e.g. --set data.train=my.jsonl --set train.lr=1e-3 (repeatable)",
    )
    p.add_argument("--init", type=Path, metavar="RUN_OR_WEIGHTS", help="start from these codec weights (fine-tune / continue elsewhere)")
    p.add_argument("--data", type=Path, metavar="MANIFEST",
                   help="with --init of a source-filter model (speechtok-fast, a run folder): adapt it to the "
                   "recordings of this manifest (a folder or one file works too) in --max-minutes (default 10)")
    p.add_argument("--workers", type=int, default=1, help="processes that read the training audio")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..codec.config import load_run_config
    from ..data.manifest import list_inputs
    from ..fsutil import claim_output_dir

    if args.data is not None:
        return run_adapt(args)
    if args.config is None:
        raise SpeechtokError("give a CONFIG to train, or --init MODEL --data MANIFEST to adapt a model to a voice")
    if not args.config.exists():
        raise SpeechtokError(f"{args.config}: no such config file")
    from ..codec.config import read_design

    try:
        design = read_design(args.config)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    if design == "sourcefilter":
        return run_sourcefilter(args)
    if args.workers < 1:
        raise SpeechtokError(f"--workers must be at least 1, got {args.workers}")
    if args.init is not None and not args.init.exists():
        raise SpeechtokError(f"{args.init}: no such run folder or weights file (--init)")
    # the command-line settings are overrides like any other, so they are validated with the config
    flags = {"steps": args.steps, "max_minutes": args.max_minutes, "accelerator": args.accelerator,
             "precision": args.precision, "batch_size": args.batch_size, "devices": args.devices}
    overrides = list(args.overrides) + [f"train.{k}={v}" for k, v in flags.items() if v is not None]
    try:
        cfg = load_run_config(args.config, overrides)  # types and ranges of every value, before any data
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    if not Path(cfg.data.train).exists():
        raise SpeechtokError(f"{cfg.data.train}: training manifest not found (make one with `speechtok data asterisk`)")
    list_inputs(cfg.data.train)  # an empty or unreadable training manifest stops here (exit 2)
    run_dir = args.out or Path("runs") / args.config.stem
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    if ckpt.exists() and not args.resume:
        raise SpeechtokError(f"{run_dir}: a run already exists there; pass --resume to continue it or choose --out")
    fresh = not run_dir.exists()
    claim_output_dir(run_dir, "train", legacy_markers=("checkpoints",))  # never the user's own folder
    cfg.name = run_name(cfg.name, run_dir)

    from ..train.loop import Trainer

    try:
        trainer = Trainer(cfg, run_dir, progress=not args.no_progress, workers=args.workers)
    except ValueError as e:  # Lightning refuses the accelerator, devices, precision or strategy
        if fresh:  # the folder was made a moment ago for this run only
            shutil.rmtree(run_dir, ignore_errors=True)
        raise SpeechtokError(f"{args.config}: train settings refused: {str(e).splitlines()[0]}") from None
    if args.resume and trainer.resume():
        print(f"resumed {run_dir} at step {trainer.step}")
    elif args.init:
        trainer.init_weights(args.init)
        print(f"initialised from {args.init}")
    trainer.fit()
    print(f"done: step {trainer.step}; weights in {run_dir}/model.safetensors; "
          f"tokenizer {cfg.name!r} (speechtok.load({str(run_dir)!r}))")
    return 0


def run_name(name: str, run_dir: Path) -> str:
    """The name a run's tokens carry: the config's, unless a tokenizer speechtok ships is called
    that (configs/base-50hz.yaml is how speechtok-base was made): then the run folder's name, so
    that tokens of a run are never taken for a shipped model's."""
    from .. import available

    taken = set(available())
    if name not in taken:
        return name
    for candidate in (run_dir.resolve().name, f"{name}-{run_dir.resolve().name}"):
        if candidate not in taken:
            print(f"run name: {candidate!r} ({name!r} is a tokenizer speechtok ships)")
            return candidate
    raise SpeechtokError(f"{name!r} is a tokenizer speechtok ships; name the run with --set name=NEW_NAME")


def run_sourcefilter(args: argparse.Namespace) -> int:
    """The source-filter codec's recipe: analysis cache, k-means codebooks, refiner (resumable)."""
    from ..codec.sourcefilter.config import load_sf_config
    from ..codec.sourcefilter.train import run_training
    from ..errors import SpeechtokError

    # the command-line settings are overrides like any other, so they are validated with the config
    flags = {"refiner_minutes": args.max_minutes, "devices": args.devices, "accelerator": args.accelerator,
             "workers": args.workers if args.workers and args.workers > 1 else None}
    overrides = list(args.overrides) + [f"train.{k}={v}" for k, v in flags.items() if v is not None]
    try:
        cfg = load_sf_config(args.config, overrides)
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    for f in (cfg.data.train, cfg.data.valid):
        if not Path(f).exists():
            raise SpeechtokError(f"{f}: manifest not found (make one with `speechtok data asterisk`)")
    from ..data.manifest import list_inputs
    from ..fsutil import claim_output_dir

    if args.workers < 1:
        raise SpeechtokError(f"--workers must be at least 1, got {args.workers}")
    list_inputs(cfg.data.train)  # an empty or unreadable training manifest stops here (exit 2)
    run_dir = args.out or Path("runs") / args.config.stem
    if (run_dir / "model.safetensors").exists() and not args.resume:
        raise SpeechtokError(f"{run_dir}: a run already exists there; pass --resume to continue it or choose --out")
    claim_output_dir(run_dir, "train", legacy_markers=("cache", "codebooks.safetensors"))  # never the user's own folder
    cfg.name = run_name(cfg.name, run_dir)
    try:
        report = run_training(cfg, run_dir, progress=not args.no_progress)
    except ValueError as e:  # the data cannot make this model, e.g. fewer frames than k-means codebook entries
        raise SpeechtokError(f"{args.config}: {str(e).splitlines()[0]}") from None
    if report.get("valid_mse_per_stage"):
        print("validation feature error per stage:", ", ".join(f"{e:.4f}" for e in report["valid_mse_per_stage"]))
    if "refiner" in report:
        r = report["refiner"]
        print(f"refiner: {r['steps']} steps, enabled={r['enabled']} (error {', '.join(f'{e:.4f}' for e in r['valid_mse_per_stage'])})")
    print(f"done; the run folder is a tokenizer: speechtok.load({str(run_dir)!r})")
    return 0


def run_adapt(args: argparse.Namespace) -> int:
    """``--init MODEL --data MANIFEST``: adapt a source-filter model to one voice (sourcefilter/adapt.py)."""
    from ..codec.sourcefilter.adapt import adapt
    from ..data.manifest import list_inputs, write_manifest
    from ..fsutil import claim_output_dir

    if args.init is None:
        raise SpeechtokError("--data adapts a model: name it with --init (e.g. --init speechtok-fast)")
    if args.config is not None:
        raise SpeechtokError("--init MODEL --data MANIFEST adapts MODEL with its own config: leave out CONFIG")
    if args.max_minutes is not None and not args.max_minutes > 0:
        raise SpeechtokError(f"--max-minutes must be > 0, got {args.max_minutes}")
    if args.workers < 1:
        raise SpeechtokError(f"--workers must be at least 1, got {args.workers}")
    utts = list_inputs(args.data)  # a manifest, a folder or one file; bad input stops here (exit 2)
    init = str(args.init)
    run_dir = args.out or Path("runs") / f"{Path(init).name.split('@')[0]}-adapted"
    if (run_dir / "adaptation.json").exists():
        raise SpeechtokError(f"{run_dir}: an adaptation already exists there; choose another --out")
    claim_output_dir(run_dir, "train --init --data")
    manifest = run_dir / "inputs.jsonl"
    write_manifest(manifest, utts)
    report = adapt(init, str(manifest), run_dir, minutes=args.max_minutes or 10.0, workers=args.workers,
                   progress=not args.no_progress)
    b, a = report["valid_mse_before"], report["valid_mse_after"]
    print(f"held-out feature error per stage: {', '.join(f'{x:.4f}' for x in b)} -> {', '.join(f'{x:.4f}' for x in a)} "
          f"({report['held_out_utterances']} held-out recordings, {report['minutes']} min)")
    print(f"done; the adapted model is a tokenizer: speechtok.load({str(run_dir)!r})")
    return 0
