"""The benchmark: encode + decode every utterance with every tokenizer (cached), score the decoded
audio with the chosen metrics (in a process pool), pool token statistics, then build the reports.

Layout of ``out``::

    rows.jsonl                      every measurement (see rows.py); the reports are rebuilt from it
    cache/<tokenizer>@<version>/    <utt>.stok (codes) and <utt>.wav (decoded audio), atomic writes;
                                    <version> is ``bench_version``: a retrained unit decoder is a new one
    summary.json, summary.md, report.html, report_files/   (report.py)

Interrupt it at any time and run the same command again: cached audio is reused and rows already
written are skipped.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..audio import load_audio, write_audio_atomic
from ..errors import SpeechtokError
from ..tokens import Tokens
from . import metrics as M
from .rows import ORIGINAL, RowLog, cache_dir, make_row, safe_name  # noqa: F401  (cache_dir, safe_name: their old home)
from .token_stats import CodeCounter, utterance_stats

TOKEN_EVALUATOR = "speechtok.token_stats"
SPEED_EVALUATOR = "wallclock"


@dataclass
class BenchConfig:
    tokenizers: list[str]
    out: Path
    metrics: list[str] = field(default_factory=list)  # names or groups; empty = all
    jobs: int = 2
    asr: str = "pocketsphinx"
    retry_errors: bool = False
    report: bool = True
    command: str = ""  # how the run was started and on what data, for the report
    data: str = ""


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def pick(utterances: list, limit: int | None) -> list:
    """``limit`` utterances spread evenly over the list (so a subset spans languages/speakers)."""
    if not limit or limit >= len(utterances):
        return list(utterances)
    idx = np.unique(np.linspace(0, len(utterances) - 1, limit).round().astype(int))
    return [utterances[i] for i in idx]


# ---- phase 1: encode and decode ---------------------------------------------------------------
def encode_decode(tok, utterances, out: Path, log: RowLog, specs) -> tuple[dict[str, str], int]:
    """Fill the cache for one tokenizer; write token-statistics and speed rows.
    Returns ``({utt id: error message} for utterances it could not process, number newly encoded)``."""
    d = cache_dir(out, tok.name, tok.bench_version)
    failed: dict[str, str] = {}
    speed_ev = dict(evaluator=SPEED_EVALUATOR, evaluator_version=f"threads={_threads()}")
    tok_ev = dict(evaluator=TOKEN_EVALUATOR, evaluator_version=_speechtok_version())
    todo = [u for u in utterances if not (log.has(tok.name, u.id, "encode_rtf")
                                          and (d / f"{safe_name(u.id)}.stok").exists())]
    warmed = False
    for u in tqdm(todo, desc=f"{tok.name}: encode/decode", unit="utt", leave=False, disable=not todo):
        stok, wavp = d / f"{safe_name(u.id)}.stok", d / f"{safe_name(u.id)}.wav"
        try:
            wav, sr = load_audio(u.path)
            if not warmed:  # first call may build kernels / load lazily: keep it out of the timing
                _roundtrip(tok, wav[: sr], sr)
                warmed = True
            t0 = time.perf_counter()
            tokens = tok.encode(wav, sr)
            t_enc = time.perf_counter() - t0
            tokens.save(stok)
            rows = [make_row(tok.name, tok.bench_version, u.id, "encode_rtf", t_enc / tokens.duration, **speed_ev)]
            if tok.can_decode:
                t0 = time.perf_counter()
                dec, dsr = tok.decode(tokens)
                t_dec = time.perf_counter() - t0
                write_audio_atomic(wavp, dec, dsr)
                rows.append(make_row(tok.name, tok.bench_version, u.id, "decode_rtf", t_dec / tokens.duration, **speed_ev))
            rows += [make_row(tok.name, tok.bench_version, u.id, k, v, **tok_ev) for k, v in utterance_stats(tokens).items()]
        except (SpeechtokError, ValueError, RuntimeError, OSError) as e:
            failed[u.id] = f"{type(e).__name__}: {e}"
            rows = [make_row(tok.name, tok.bench_version, u.id, "encode_rtf", error=f"encode/decode failed: {e}", **speed_ev)]
            if tok.can_decode:
                rows += [make_row(tok.name, tok.bench_version, u.id, o, error=f"encode/decode failed: {e}",
                                  evaluator=M.evaluator_name(s), evaluator_version=M.evaluator_version(s))
                         for s in specs for o in s.outputs]
        log.write(rows)
    for u in utterances:  # errors of earlier runs, so phase 2 does not retry them forever
        if u.id not in failed and not (d / f"{safe_name(u.id)}.stok").exists():
            failed[u.id] = "encode/decode failed in an earlier run"
    return failed, len(todo)


def _roundtrip(tok, wav, sr):
    t = tok.encode(wav, sr)
    if tok.can_decode:
        tok.decode(t)


def pooled_token_stats(tok, utterances, out: Path, log: RowLog) -> None:
    """Rows with ``utt = "*"``: entropy-coded kbps, codebook usage and perplexity over all codes."""
    d = cache_dir(out, tok.name, tok.bench_version)
    counter = CodeCounter()
    for u in utterances:
        p = d / f"{safe_name(u.id)}.stok"
        if p.exists():
            counter.add(Tokens.load(p))
    if not counter.counts:
        return
    ev = dict(evaluator=TOKEN_EVALUATOR, evaluator_version=_speechtok_version())
    # rewritten when new codes came in; report.py keeps the latest row per metric
    log.write([make_row(tok.name, tok.bench_version, "*", k, v, **ev) for k, v in counter.stats().items()])


def _speechtok_version() -> str:
    from .. import __version__

    return __version__


# ---- phase 2: quality metrics ------------------------------------------------------------------
@dataclass
class ScoreJob:
    """Everything a worker needs to score one utterance: decoded files and which metrics each lacks."""

    utt: str
    path: str
    text: str | None
    language: str | None
    asr: str
    items: list[tuple[str, str, str, list[str]]]  # (tokenizer, version, decoded wav, metric names)
    original: list[str]  # on_original metric names still missing for the original


def score_job(job: ScoreJob) -> list[dict]:
    """Rows for one utterance. Never raises: every failure becomes an error row."""
    rows: list[dict] = []
    try:
        ref, ref_sr = load_audio(job.path)
    except Exception as e:  # noqa: BLE001 - the message goes into the rows
        for tok, ver, _, names in job.items + [(ORIGINAL, "-", None, job.original)]:
            for name in names:
                spec = M.BY_NAME[name]
                rows += [_row(job, tok, ver, spec, o, None, e) for o in spec.outputs]
        return rows
    ev = M.UtteranceEvaluator(ref, ref_sr, job.text, job.language, job.asr)
    for name in job.original:
        spec = M.BY_NAME[name]
        rows += _score(ev, job, ORIGINAL, "-", spec, None, ref_sr)
    for tok, ver, wav_path, names in job.items:
        try:
            deg, deg_sr = load_audio(wav_path)
        except Exception as e:  # noqa: BLE001
            rows += [_row(job, tok, ver, M.BY_NAME[n], o, None, e) for n in names for o in M.BY_NAME[n].outputs]
            continue
        by_rate: dict[int, np.ndarray] = {}
        for name in names:
            spec = M.BY_NAME[name]
            if spec.sample_rate not in by_rate:
                from ..audio import resample

                by_rate[spec.sample_rate] = resample(deg, deg_sr, spec.sample_rate)
            rows += _score(ev, job, tok, ver, spec, by_rate[spec.sample_rate], deg_sr)
    return rows


def _score(ev, job, tok, ver, spec, deg, deg_sr) -> list[dict]:
    notes = [n for n in (M.resample_note(deg_sr, spec.sample_rate) if deg is not None else None,
                         _orig_note(ev.ref_sr, spec.sample_rate)) if n]
    resampled = "; ".join(notes) or None
    try:
        values = ev.score(spec, deg)
    except Exception as e:  # noqa: BLE001 - a failing metric is an error row, never a made-up value
        return [_row(job, tok, ver, spec, o, None, e, resampled) for o in spec.outputs]
    return [_row(job, tok, ver, spec, o, v, None, resampled) for o, v in values.items()]


def _orig_note(ref_sr: int, sr: int) -> str | None:
    note = M.resample_note(ref_sr, sr)
    return f"original {note}" if note else None


def _row(job, tok, ver, spec, output, value, error, resampled=None) -> dict:
    return make_row(tok, ver, job.utt, output, value, evaluator=M.evaluator_name(spec, job.asr),
                    evaluator_version=M.evaluator_version(spec, job.asr), resampled=resampled, error=error)


def _worker_init():
    # each worker is one of `jobs` processes: one thread each, or they fight over the cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _jobs(utterances, toks, specs, out: Path, log: RowLog, failed, asr: str) -> list[ScoreJob]:
    jobs = []
    for u in utterances:
        applicable = [s for s in specs if M.applies(s, u.language, asr)]
        items = []
        for tok in toks:
            if not tok.can_decode or u.id in failed[tok.name]:
                continue
            names = [s.name for s in applicable if not any(log.has(tok.name, u.id, o) for o in s.outputs)]
            if names:
                wav = cache_dir(out, tok.name, tok.bench_version) / f"{safe_name(u.id)}.wav"
                items.append((tok.name, tok.bench_version, str(wav), names))
        original = [s.name for s in applicable if s.on_original
                    and not any(log.has(ORIGINAL, u.id, o) for o in s.outputs)]
        if items or original:
            jobs.append(ScoreJob(u.id, u.path, u.text, u.language, asr, items, original))
    return jobs


def score_all(jobs: list[ScoreJob], log: RowLog, workers: int) -> None:
    bar = tqdm(total=len(jobs), desc="metrics", unit="utt", disable=not jobs)
    if workers <= 1:
        for job in jobs:
            log.write(score_job(job))
            bar.update()
    else:
        with ProcessPoolExecutor(workers, initializer=_worker_init) as pool:
            futures = [pool.submit(score_job, j) for j in jobs]
            for f in as_completed(futures):
                log.write(f.result())
                bar.update()
    bar.close()


# ---- the whole run -----------------------------------------------------------------------------
def run_bench(cfg: BenchConfig, utterances: list, load=None) -> Path:
    """Run the benchmark described by ``cfg`` over ``utterances`` (data.Utterance). Returns ``out``."""
    from .. import load as default_load

    load = load or default_load
    specs = M.select(cfg.metrics)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ids = [u.id for u in utterances]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise SpeechtokError(f"utterance ids must be unique; repeated: {', '.join(dup)}")
    from ..data.manifest import write_manifest

    write_manifest(out / "inputs.jsonl", utterances)  # so the report can be rebuilt on its own
    if cfg.command or cfg.data:
        import json

        from ..fsutil import write_atomic

        run = {"command": cfg.command, "data": cfg.data}
        write_atomic(out / "run.json", lambda tmp: tmp.write_text(json.dumps(run, indent=1) + "\n"))
    with RowLog(out / "rows.jsonl", retry_errors=cfg.retry_errors) as log:
        toks, failed = [], {}
        for name in cfg.tokenizers:
            tok = load(name)
            _check_version(log, tok)
            failed[tok.name], n_new = encode_decode(tok, utterances, out, log, specs)
            if n_new or not log.has(tok.name, "*", "entropy_kbps"):
                pooled_token_stats(tok, utterances, out, log)
            toks.append(tok)
        jobs = _jobs(utterances, toks, specs, out, log, failed, cfg.asr)
        score_all(jobs, log, cfg.jobs)
    if cfg.report:
        from .report import build_report

        build_report(out, utterances=utterances)
    return out


def failed_inputs(out: Path, utterances: list) -> list[tuple[str, str, str]]:
    """``(input path, tokenizer, error)`` for each input of ``utterances`` that a tokenizer of the
    run in ``out`` could not encode or decode (from its rows.jsonl, latest row per tokenizer)."""
    from .rows import latest, read_rows

    paths = {u.id: u.path for u in utterances}
    return [(paths[r["utt"]], r["tokenizer"], r["error"].removeprefix("encode/decode failed: "))
            for r in latest(read_rows(Path(out) / "rows.jsonl"))
            if r["metric"] == "encode_rtf" and r["error"] and r["utt"] in paths]


def _check_version(log: RowLog, tok) -> None:
    old = {r["tokenizer_version"] for r in log.rows if r["tokenizer"] == tok.name}
    if old and old != {tok.bench_version}:
        raise SpeechtokError(
            f"{log.path} has rows for {tok.name} version {', '.join(sorted(old))} but it is now version "
            f"{tok.bench_version} (a unit decoder's weights are part of it); use a new --out folder so results of "
            "different versions are not mixed"
        )
