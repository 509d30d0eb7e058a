"""`speechtok encode | decode | info | list | demo`: tokenizers on files and folders.

encode/decode take a file or a folder (a folder keeps its layout under OUT), show a progress
bar, skip outputs that already exist (``--overwrite`` redoes them), write each output
atomically, and report a bad input file in one line on stderr and go on. Exit code 0 when all
went well, 1 when some files failed, 2 when the input itself is bad.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from ..defaults import DEFAULT_TOKENIZER, DEMO_COMPARE
from ..errors import SpeechtokError, SpeechtokWarning, UnknownTokenizerError
from ..fsutil import STOP_ERRNOS
from . import exit_code

QUALITY_SR = 16000  # PESQ-WB is defined at 16 kHz; every quality figure is taken there


def register(subparsers) -> None:
    p = subparsers.add_parser("encode", help="audio file or folder -> token files (.stok)")
    p.add_argument("input", help="an audio file, a folder of them (searched recursively) or a .jsonl manifest")
    p.add_argument("-o", "--out", required=True, help="output folder (or a .stok path for one file)")
    p.add_argument("-t", "--tokenizer", default=DEFAULT_TOKENIZER, help=f"tokenizer name (default {DEFAULT_TOKENIZER})")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.set_defaults(func=_encode)

    p = subparsers.add_parser("decode", help="token file or folder (.stok) -> wav")
    p.add_argument("input", help="a .stok file or a folder of them (searched recursively)")
    p.add_argument("-o", "--out", required=True, help="output folder (or a .wav path for one file)")
    p.add_argument("-t", "--tokenizer", metavar="NAME_OR_RUN",
                   help="decode with this tokenizer or training-run folder (default: the one named in each "
                        "file; a file made by another model is refused)")
    p.add_argument("--overwrite", action="store_true", help="redo outputs that already exist")
    p.set_defaults(func=_decode)

    p = subparsers.add_parser("info", help="what token files hold")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(func=_info)

    p = subparsers.add_parser("list", help="the tokenizers speechtok knows")
    p.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    p.set_defaults(func=_list)

    p = subparsers.add_parser("demo", help="tokenize + decode the shipped clips; print bitrate and quality")
    p.add_argument("--tokenizer", default=DEFAULT_TOKENIZER, help=f"default {DEFAULT_TOKENIZER}")
    p.add_argument(
        "--compare", nargs="*", default=list(DEMO_COMPARE), metavar="NAME",
        help=f"also run these (default: {' '.join(DEMO_COMPARE)}; none: --compare with no names)",
    )
    p.add_argument("--clips", help="a folder or manifest of clips instead of the shipped ones")
    p.add_argument("--out", help="also write the decoded clips here, OUT/<tokenizer>/<clip>.wav (a new folder, "
                   "or one an earlier demo wrote)")
    p.add_argument("--web", action="store_true", help="instead, start the demo web page (speechtok serve; --host, --port)")
    from .serve_cmd import add_server_args

    add_server_args(p)
    p.set_defaults(func=_demo)


# ---- encode / decode ---------------------------------------------------------------------
def _process(pairs: list[tuple[Path, Path]], work: Callable[[Path, Path], None], verb: str,
             overwrite: bool, single: bool) -> int:
    """Run ``work(src, dst)`` on each pair with a progress bar; one stderr line per failure and
    per warning, naming the file. Returns the exit code: 0, 1 (some failed) or 2 (the single
    input file failed)."""
    from tqdm import tqdm

    def report(src: Path, text: str, prefix: str = "") -> None:
        line = text.splitlines()[0] if text else ""
        tqdm.write(f"speechtok {verb}: {prefix}{line if str(src) in line else f'{src}: {line}'}", file=sys.stderr)

    done = skipped = 0
    failed: list[Path] = []
    first_src: dict[Path, Path] = {}
    for src, dst in tqdm(pairs, desc=verb, unit="file", disable=None, file=sys.stderr):
        if dst in first_src:  # e.g. a.wav and a.flac in one folder
            failed.append(src)
            tqdm.write(f"speechtok {verb}: {src}: same output {dst} as {first_src[dst]}; skipped", file=sys.stderr)
            continue
        first_src[dst] = src
        if dst.exists() and not overwrite:
            skipped += 1
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SpeechtokWarning)
                work(src, dst)
            done += 1
        except (SpeechtokError, OSError, RuntimeError, ValueError) as e:
            if isinstance(e, OSError) and e.errno in STOP_ERRNOS:
                raise  # a full or read-only disk: every other file would fail too; one line, exit 2
            failed.append(src)
            report(src, str(e) or type(e).__name__)
        for w in caught:
            if issubclass(w.category, SpeechtokWarning):
                report(src, str(w.message), "warning: ")
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    note = " (already there; --overwrite redoes them)" if skipped else ""
    print(f"{verb}: {done} written, {skipped} skipped{note}, {len(failed)} failed", file=sys.stderr)
    return exit_code(len(failed), 1 if single else len(pairs))


def _check_out(out: Path, suffix: str, single: bool) -> None:
    """-o names a folder, or for one input a ``suffix`` file; never an existing file otherwise."""
    from ..errors import OutputError

    if out.exists() and not out.is_dir() and not (single and out.suffix.lower() == suffix):
        raise OutputError(f"{out}: exists and is not a folder; -o must name a folder (or a {suffix} file for one input)")


def _check_writable(out: Path, single: bool, suffix: str) -> None:
    """An output folder that cannot be created or written is the invocation's fault: one line,
    exit 2, before any work (not one failure per input file). Nothing is created here."""
    from ..fsutil import check_writable_dir

    if not (single and out.suffix.lower() == suffix):
        check_writable_dir(out)


def _target(out: Path, rel: str, suffix: str, single: bool) -> Path:
    """Where one input goes: OUT itself if it already ends in ``suffix`` and there is one input,
    else OUT/rel<suffix> (an id that would leave OUT is refused)."""
    from ..fsutil import inside

    if single and out.suffix.lower() == suffix:
        return out
    return inside(out, rel, suffix)


def _encode(args) -> int:
    from .. import load
    from ..audio import load_audio
    from ..data.manifest import list_inputs
    from ..tokens import SUFFIX

    tok = load(args.tokenizer)  # a bad name or missing library stops here, exit 2
    inp, out = Path(args.input), Path(args.out)
    items = list_inputs(inp)  # raises (exit 2) on a missing input or a folder with no audio
    single = inp.is_file() and inp.suffix.lower() not in (".jsonl", ".json")
    rel = (lambda u: Path(u.path).stem) if single else (lambda u: u.id)
    _check_out(out, SUFFIX, single)
    # every target before any work: an id such as ../x or /abs/x refuses the whole run (exit 2)
    pairs = [(Path(u.path), _target(out, rel(u), SUFFIX, single)) for u in items]
    _check_writable(out, single, SUFFIX)

    def work(src: Path, dst: Path) -> None:
        tok.encode(*load_audio(src)).save(dst)

    return _process(pairs, work, "encode", args.overwrite, single)


def _decode(args) -> int:
    from .. import load
    from ..audio import write_audio_atomic
    from ..tokens import SUFFIX, Tokens

    inp, out = Path(args.input), Path(args.out)
    if not inp.exists():
        raise SpeechtokError(f"{inp}: no such file or folder")
    single = not inp.is_dir()
    _check_out(out, ".wav", single)
    if single:
        pairs = [(inp, _target(out, inp.stem, ".wav", True))]
    else:
        files = sorted(f for f in inp.rglob(f"*{SUFFIX}") if f.is_file())
        if not files:
            raise SpeechtokError(f"{inp}: folder has no {SUFFIX} token files")
        pairs = [(f, out / f.relative_to(inp).with_suffix(".wav")) for f in files]
    _check_writable(out, single, ".wav")
    given = load(args.tokenizer) if args.tokenizer else None  # a bad name stops here, exit 2
    tokenizers: dict[str, object] = {}

    def tokenizer_for(tokens):
        if given is not None:
            return given
        if tokens.tokenizer not in tokenizers:
            try:
                tokenizers[tokens.tokenizer] = load(tokens.tokenizer)
            except UnknownTokenizerError:
                raise SpeechtokError(
                    f"made by {tokens.tokenizer!r}"
                    + (f" (model {tokens.model_id})" if tokens.model_id else "")
                    + ", which is not a tokenizer speechtok ships; decode it with the run folder that made it: "
                      "speechtok decode -t RUN_FOLDER"
                ) from None
        return tokenizers[tokens.tokenizer]

    def work(src: Path, dst: Path) -> None:
        tokens = Tokens.load(src)
        tok = tokenizer_for(tokens)
        if tokens.tokenizer_version != tok.version and tokens.model_id is None:
            warnings.warn(f"made with {tokens.tokenizer} {tokens.tokenizer_version}, decoding with {tok.version}",
                          SpeechtokWarning)
        write_audio_atomic(dst, *tok.decode(tokens))

    return _process(pairs, work, "decode", args.overwrite, single)


# ---- info / list -----------------------------------------------------------------------------
def _codebooks_text(sizes) -> str:
    """(256, 256, 256, 16) -> '3x256 + 1x16'."""
    groups: list[list[int]] = []
    for s in sizes:
        if groups and groups[-1][1] == s:
            groups[-1][0] += 1
        else:
            groups.append([1, s])
    return " + ".join(f"{n}x{s}" for n, s in groups) or "none"


def tokens_summary(tokens) -> dict:
    """The facts `speechtok info` shows about a Tokens value."""
    return {
        "tokenizer": tokens.tokenizer,
        "tokenizer_version": tokens.tokenizer_version,
        "model_id": tokens.model_id,
        "codebooks": tokens.num_codebooks,
        "codebook_sizes": list(tokens.codebook_sizes),
        "frames": tokens.num_frames,
        "frame_rate": tokens.frame_rate,
        "duration_s": round(tokens.duration, 4),
        "source_sample_rate": tokens.sample_rate,
        "kbps": round(tokens.bitrate / 1000, 4),
        "tokens_per_s": round(tokens.tokens_per_second, 2),
        **({"streams": list(tokens.extra["streams"])} if isinstance(tokens.extra.get("streams"), list) else {}),
    }


def _info(args) -> int:
    from ..tokens import Tokens

    failed = 0
    for i, f in enumerate(args.files):  # `info` exits like encode/decode: 2 for its only file, else 1
        try:
            s = tokens_summary(Tokens.load(f))
        except SpeechtokError as e:
            failed += 1
            print(f"speechtok info: {e}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps({"file": str(f)} | s))
            continue
        print(("\n" if i else "") + str(f))
        for key, value in [
            ("tokenizer", f"{s['tokenizer']} ({s['tokenizer_version']})"),
            ("model id", s["model_id"] or "none (no trained weights, or a file from before model ids)"),
            ("codebooks", f"{s['codebooks']} ({_codebooks_text(s['codebook_sizes'])})"),
            ("frames", f"{s['frames']} at {s['frame_rate']:g} Hz"),
            ("duration", f"{s['duration_s']:.3f} s (source audio at {s['source_sample_rate']} Hz)"),
            ("bitrate", f"{s['kbps']:.3f} kbps (measured from the codes)"),
            ("tokens/s", f"{s['tokens_per_s']:g}"),
        ] + ([("streams", ", ".join(f"{k}: {v}" for k, v in enumerate(s["streams"])))] if "streams" in s else []):
            print(f"  {key:<10} {value}")
    return exit_code(failed, len(args.files))


def _table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def _list(args) -> int:
    from .. import available
    from ..tokenizers import external
    from ..tokenizers.registry import describe

    hub = set(external.names())  # loading these fetches weights: list them, do not load them
    rows = []
    for name in available():
        if name in hub:
            rows.append({"name": name, "error": "other project's model; weights come from the Hugging Face hub on first load"})
            continue
        try:  # facts from the model's config where the family can give them: no model is loaded
            d = describe(name)
        except SpeechtokError as e:  # e.g. a system library that is not installed
            rows.append({"name": name, "error": str(e)})
            continue
        sizes = d["codebook_sizes"]
        rows.append({
            "name": d["name"], "sample_rate": d["sample_rate"], "frame_rate": d["frame_rate"],
            "codebooks": len(sizes), "codebook_sizes": list(sizes),
            "kbps": round(d.get("bitrate", d["frame_rate"] * sum(math.log2(s) for s in sizes)) / 1000, 4),
            "tokens_per_s": d["frame_rate"] * len(sizes),
        })
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    table = [
        [r["name"], r["sample_rate"], float(r["frame_rate"]), _codebooks_text(r["codebook_sizes"]), r["kbps"]]
        if "error" not in r else [r["name"], "-", "-", r["error"] if r["name"] in hub else "unavailable: " + r["error"], "-"]
        for r in rows
    ]
    print(_table(["tokenizer", "sample rate", "frame rate", "codebooks", "nominal kbps"], table))
    return 0


# ---- demo ----------------------------------------------------------------------------------
def quality(ref: np.ndarray, ref_sr: int, deg: np.ndarray, deg_sr: int,
            metrics=("logmel", "stoi", "pesq_wb")) -> dict[str, float]:
    """Quality of ``deg`` against ``ref`` (each ``(samples,)`` at its own rate), both taken to
    16 kHz, with the benchmark's definitions (speechtok.eval.metrics): ``logmel`` (log_mel_l1),
    ``stoi`` and ``pesq_wb``. A metric whose package is not installed is left out; PESQ-WB is
    nan on a clip where it finds no speech."""
    from ..audio import resample
    from ..eval.metrics import perceptual, signal

    funcs = {"logmel": signal.log_mel_l1, "stoi": perceptual.stoi, "pesq_wb": perceptual.pesq_wb}
    r, d = resample(ref, ref_sr, QUALITY_SR), resample(deg, deg_sr, QUALITY_SR)
    n = min(len(r), len(d))
    out = {}
    for name in metrics:
        try:
            out[name] = funcs[name](r[:n], d[:n], QUALITY_SR)
        except ImportError:  # MissingDependencyError is one too: metric not installed
            continue
        except Exception:
            if name != "pesq_wb":
                raise
            out[name] = float("nan")  # pesq raises its own error types on clips with no speech found
    return out


def _demo_clips(clips: str | None) -> list[Path]:
    from ..data import shipped_clips
    from ..data.manifest import list_inputs

    return [Path(u.path) for u in (list_inputs(clips) if clips else shipped_clips())]


def _demo(args) -> int:
    if args.web:
        from .serve_cmd import run_server

        return run_server(list(dict.fromkeys([args.tokenizer, *args.compare])), args)
    from tqdm import tqdm

    from .. import load
    from ..audio import load_audio, write_audio_atomic

    from ..fsutil import claim_output_dir, inside

    out = claim_output_dir(args.out, "demo") if args.out else None  # before any work: refuse early
    names = list(dict.fromkeys([args.tokenizer, *args.compare]))
    tokenizers = [load(n) for n in names]
    clips = [(p, *load_audio(p)) for p in _demo_clips(args.clips)]
    seconds = sum(len(a) / sr for _, a, sr in clips)
    print(f"{len(clips)} clips, {seconds:.1f} s of speech; quality at 16 kHz against the originals")
    rows = []
    bar = tqdm(total=len(tokenizers) * len(clips), unit="clip", disable=None, file=sys.stderr)
    for tok in tokenizers:
        bits = tokens = t_enc = t_dec = 0.0
        scores: dict[str, list[float]] = {}
        _, audio0, sr0 = clips[0]  # one untimed call first: lazy tables and FFT plans are not the codec's speed
        tok.decode(tok.encode(audio0[: sr0 // 2], sr0))
        for path, audio, sr in clips:
            t0 = time.perf_counter()
            toks = tok.encode(audio, sr)
            t1 = time.perf_counter()
            wav, wav_sr = tok.decode(toks)
            t_dec += time.perf_counter() - t1
            t_enc += t1 - t0
            bits, tokens = bits + toks.bits, tokens + toks.codes.size
            for k, v in quality(audio, sr, wav, wav_sr).items():
                scores.setdefault(k, []).append(v)
            if out:
                write_audio_atomic(inside(out, tok.name) / f"{path.stem}.wav", wav, wav_sr)
            bar.update()
        mean = {k: float(np.nanmean(v)) if not np.all(np.isnan(v)) else math.nan for k, v in scores.items()}
        rows.append([tok.name, bits / seconds / 1000, tokens / seconds, mean.get("stoi", math.nan),
                     mean.get("pesq_wb", math.nan), mean.get("logmel", math.nan), t_enc / seconds, t_dec / seconds])
    bar.close()
    print(_table(["tokenizer", "kbps", "tokens/s", "STOI", "PESQ-WB", "log-mel dist", "enc RTF", "dec RTF"], rows))
    print("kbps and tokens/s measured from the codes; RTF = compute seconds per audio second on this machine "
          "(after one untimed warm-up call)")
    return 0
