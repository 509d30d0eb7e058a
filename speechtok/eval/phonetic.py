"""Semantic measures of tokenizers on aligned English speech, written as benchmark rows.

For each tokenizer: PNMI / phone purity / cluster purity of every codebook against the forced
phone alignments (one ``utt="*"`` row each, over all frames of the data), token stability of
the content codebook (one row per utterance and perturbation), and the probe's phone error rate
(``utt="*"``; trained on the tokens of ``train`` utterances). Rows go to ``out/rows.jsonl``
in the benchmark's format; rows already there are not recomputed (resume).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.forced_align import ALIGNER_VERSION, align_manifest, english_with_text, phone_segments
from ..data.phones import SAMPLE_RATE, phone_sequence, segments_to_frames

MEASURES_VERSION = "1"
ALL_MEASURES = ("purity", "stability", "probe")


@dataclass
class SemanticConfig:
    tokenizers: list[str]
    data: str
    out: str
    train: str | None = None  # manifest for the probe's training utterances
    alignments: str | None = None  # alignment cache (default: default_alignment_cache(data))
    measures: tuple[str, ...] = ALL_MEASURES
    probe_steps: int = 300
    probe_max_seconds: float = 8.0  # longer training utterances are skipped: a BiGRU over them is slow
    limit: int | None = None
    stability_limit: int | None = 20  # stability encodes 5 versions of each utterance
    progress: bool = True


def content_codebook(tok) -> int:
    """The first codebook that carries content: codebook 0, unless the tokenizer says it is a
    pitch stream (the source-filter codec: ``streams`` = ["pitch", "envelope", ...])."""
    streams = list(tok.streams or [])
    return next((k for k, s in enumerate(streams) if s != "pitch"), 0)


def default_alignment_cache(data: str) -> Path:
    """The alignment cache of the manifests in ``data``'s folder, kept in speechtok's cache folder
    (fsutil.cache_dir), never in the data's folder. An ``alignments/en.jsonl`` an older speechtok
    left beside the data seeds it (read, never written)."""
    import hashlib
    import shutil

    from ..fsutil import cache_dir, write_atomic

    folder = Path(data).resolve().parent
    key = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    cache = cache_dir("alignments", f"{folder.name}-{key}", "en.jsonl")
    legacy = folder / "alignments" / "en.jsonl"
    if not cache.exists() and legacy.is_file():
        write_atomic(cache, lambda tmp: shutil.copyfile(legacy, tmp))
    return cache


def aligned_utterances(source: str, cache: Path, limit: int | None = None, progress: bool = True):
    """English utterances of ``source`` with transcripts, aligned (cached) -> [(utt, row)]."""
    from ..data.manifest import list_inputs
    from .runner import pick

    utts = pick(english_with_text(list_inputs(source)), limit)
    rows = align_manifest(utts, cache, progress=progress)
    return [(u, rows[u.id]) for u in utts if u.id in rows]


def run_semantic(cfg: SemanticConfig, load=None) -> Path:
    """Measure every tokenizer of ``cfg``; returns the rows file."""
    import speechtok
    from tqdm import tqdm

    from ..audio import load_audio
    from .rows import RowLog, make_row
    from .metrics.units import PERTURBATIONS, cluster_quality, heldout_unit_accuracy, unit_edit_distance
    from .phone_probe import ProbeItem, run_probe

    load = load or speechtok.load
    out = Path(cfg.out)
    cache = Path(cfg.alignments) if cfg.alignments else default_alignment_cache(cfg.data)
    test = aligned_utterances(cfg.data, cache, cfg.limit, cfg.progress)
    if not test:
        raise ValueError(f"{cfg.data}: no English utterance with a transcript could be aligned")
    train = aligned_utterances(cfg.train, cache, None, cfg.progress) if cfg.train and "probe" in cfg.measures else []
    wavs: dict[str, np.ndarray] = {}

    def wav(u):
        if u.id not in wavs:
            wavs[u.id] = load_audio(u.path, SAMPLE_RATE)[0]
        return wavs[u.id]

    align_ev = {"evaluator": "phone-alignment", "evaluator_version": f"{ALIGNER_VERSION}/measures-{MEASURES_VERSION}"}
    with RowLog(out / "rows.jsonl") as log:
        for name in cfg.tokenizers:
            tok = load(name)
            tn, tv = tok.name, tok.version
            k0 = content_codebook(tok)
            print(f"{tn}: {len(test)} test utterances", file=sys.stderr)
            codes = {u.id: tok.encode(wav(u), SAMPLE_RATE).codes for u, _ in tqdm(test, desc=f"encode {tn}", disable=not cfg.progress)}
            if "purity" in cfg.measures:
                for k in range(tok.num_codebooks):
                    if log.has(tn, "*", f"pnmi_cb{k}") and log.has(tn, "*", f"pnmi_chance_cb{k}"):
                        continue
                    units = np.concatenate([codes[u.id][k] for u, _ in test])
                    labels = np.concatenate(
                        [segments_to_frames(phone_segments(r), tok.frame_rate, codes[u.id].shape[1]) for u, r in test]
                    )
                    q = cluster_quality(labels, units)
                    # the same units shuffled over frames: PNMI's bias when units are many and frames few
                    chance = cluster_quality(labels, np.random.default_rng(0).permutation(units))["pnmi"]
                    new = [make_row(tn, tv, "*", f"{m}_cb{k}", q[m], **align_ev) for m in ("pnmi", "phone_purity", "cluster_purity")]
                    new.append(make_row(tn, tv, "*", f"pnmi_chance_cb{k}", chance, **align_ev))
                    log.write([r for r in new if not log.has(tn, "*", r["metric"])])
                if not log.has(tn, "*", "content_codebook"):
                    log.write([make_row(tn, tv, "*", "content_codebook", k0, **align_ev)])
            if "stability" in cfg.measures:
                from .runner import pick

                ev = {"evaluator": "token-stability", "evaluator_version": MEASURES_VERSION}
                for u, _ in tqdm(pick(test, cfg.stability_limit), desc=f"stability {tn}", disable=not cfg.progress):
                    for pname, fn in PERTURBATIONS.items():
                        metric = f"ued_{pname}"
                        if log.has(tn, u.id, metric):
                            continue
                        try:
                            other = tok.encode(fn(wav(u)), SAMPLE_RATE).codes[k0]
                            log.write([make_row(tn, tv, u.id, metric, unit_edit_distance(codes[u.id][k0], other), **ev)])
                        except Exception as e:  # one bad utterance must not stop the run
                            log.write([make_row(tn, tv, u.id, metric, e, **ev)])
            acc_metric = f"unit_phone_acc_cb{k0}"
            if "probe" in cfg.measures and train and not (log.has(tn, "*", "probe_per") and log.has(tn, "*", acc_metric)):
                ev = {"evaluator": "token-probe", "evaluator_version": f"{MEASURES_VERSION}/steps{cfg.probe_steps}"}
                train_codes = [(tok.encode(wav(u), SAMPLE_RATE).codes, r)
                               for u, r in tqdm(train, desc=f"encode train {tn}", disable=not cfg.progress)
                               if r["num_samples"] <= cfg.probe_max_seconds * SAMPLE_RATE]
                if not log.has(tn, "*", "probe_per"):
                    try:
                        items = [ProbeItem(c, phone_sequence(phone_segments(r))) for c, r in train_codes]
                        held = [ProbeItem(codes[u.id], phone_sequence(phone_segments(r))) for u, r in test]
                        res = run_probe(items, held, tok.codebook_sizes, tok.frame_rate, steps=cfg.probe_steps, progress=cfg.progress)
                        log.write([make_row(tn, tv, "*", "probe_per", res["per"], **ev)])
                    except ValueError as e:
                        log.write([make_row(tn, tv, "*", "probe_per", e, **ev)])
                if not log.has(tn, "*", acc_metric) and train_codes:
                    # held-out unit purity: each unit's majority phone counted on the probe's
                    # training frames, scored on the test frames (many units are not rewarded)
                    def frames(pairs):
                        return (np.concatenate([c[k0] for c, _ in pairs]),
                                np.concatenate([segments_to_frames(phone_segments(r), tok.frame_rate, c.shape[1]) for c, r in pairs]))

                    acc = heldout_unit_accuracy(*frames(train_codes), *frames([(codes[u.id], r) for u, r in test]))
                    log.write([make_row(tn, tv, "*", acc_metric, acc, **align_ev)])
    return out / "rows.jsonl"


def markdown_table(rows_path: str | Path) -> str:
    """One line per tokenizer: the content codebook's PNMI/purities (codebook 0, or 1 after a
    pitch stream: column ``cb``), its held-out unit phone accuracy, mean UED per perturbation,
    probe PER."""
    from .rows import latest, read_rows

    rows = [r for r in latest(read_rows(rows_path)) if r["error"] is None]
    per_cb = ["pnmi", "pnmi_chance", "phone_purity", "cluster_purity", "unit_phone_acc"]
    cols = ["ued_noise_20db", "ued_speed_0.9", "ued_speed_1.1", "ued_shift_10ms", "probe_per"]
    by: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        by.setdefault(r["tokenizer"], {}).setdefault(r["metric"], []).append(r["value"])
    lines = ["| tokenizer | cb | " + " | ".join(per_cb + cols) + " |", "|---" * (len(per_cb) + len(cols) + 2) + "|"]
    for tok, m in by.items():
        k = int(m.get("content_codebook", [0])[-1])
        cells = [f"{np.mean(m[c]):.3f}" if c in m else "–" for c in [f"{p}_cb{k}" for p in per_cb] + cols]
        lines.append(f"| {tok} | {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
