"""Syllable tokens against forced-aligned reference syllables (benchmarks/syllables).

Per utterance (one row each): the tokenizer's syllables (pause tokens left out) and the reference
syllables of its pocketsphinx alignment (``syllabify.reference_syllables``). Over the data set:

- **boundary** precision / recall / F1 / R-value at ±50 ms and ±20 ms (hits pooled over
  utterances), and the same for a **uniform baseline**: each speech run of the segmenter cut into
  equal parts, as many as the reference has syllables in that utterance in all (given the true
  count, spread evenly over the runs by length): what the envelope's timing adds over a count;
- **rates**: syllables/s and tokens/s (pauses included) of audio, measured bits/s
  (``Tokens.bitrate``: tokens × Σ log2 codebook sizes) and the streams' unigram entropies
  (bits/s an ideal order-0 entropy coder would need);
- **PNMI and purity** of the content codes (pauses left out) against the phone string of the
  reference syllable each token overlaps most (e.g. ``K-AE-T``; ``SIL`` when none) and against
  that syllable's vowel.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from ..audio import load_audio
from ..data.manifest import list_inputs
from ..data.forced_align import align_manifest
from ..eval.metrics.units import cluster_quality
from .segment import SAMPLE_RATE, SegmenterConfig, envelope_db, speech_runs
from .syllabify import boundaries, match_boundaries, reference_syllables, scores_from_counts

TOLERANCES = (0.05, 0.02)


def overlap_labels(segments, ref) -> tuple[list[str], list[str]]:
    """For each ``(start, end)``: the phone string and the vowel of the reference syllable it
    overlaps most (``SIL`` for both where it overlaps none)."""
    labels, vowels = [], []
    for a, b in segments:
        best, r = max(((min(b, s.end) - max(a, s.start), s) for s in ref), key=lambda x: x[0], default=(0.0, None))
        labels.append(r.label if best > 0 else "SIL")
        vowels.append(r.nucleus if best > 0 else "SIL")
    return labels, vowels


def uniform_segments(wav: np.ndarray, count: int, config: SegmenterConfig = SegmenterConfig()) -> list[tuple[float, float]]:
    """The segmenter's speech runs cut into ``count`` equal parts in all (by run length)."""
    runs = [(a * 0.01, b * 0.01) for a, b in speech_runs(envelope_db(wav, config), config)]
    if not runs or count <= 0:
        return []
    lengths = np.array([b - a for a, b in runs])
    share = np.maximum(1, np.round(count * lengths / lengths.sum())).astype(int)
    out = []
    for (a, b), n in zip(runs, share):
        edges = np.linspace(a, b, n + 1)
        out.extend(zip(edges[:-1], edges[1:]))
    return out


def _entropy_bits(values: np.ndarray) -> float:
    p = np.bincount(values) / len(values)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def content_and_labels(tok, manifest: str, align_cache: str) -> tuple[np.ndarray, list[str], list[str]]:
    """Content codes of every syllable token of a manifest's aligned utterances, with the
    phone-string and vowel labels of the reference syllables they overlap most."""
    utts = list_inputs(manifest)
    aligned = align_manifest(utts, align_cache, progress=False)
    units, labels, vowels = [], [], []
    for u in utts:
        if u.id not in aligned:
            continue
        wav, _ = load_audio(u.path, SAMPLE_RATE)
        codes, spans = tok.codes_and_spans(wav)
        ref = reference_syllables(aligned[u.id]["phones"], aligned[u.id]["words"])
        lab, vow = overlap_labels([(a, b) for a, b, p in spans if not p], ref)
        units.append(codes[0, codes[0] != tok.pause_code])
        labels += lab
        vowels += vow
    return np.concatenate(units), labels, vowels


def evaluate_manifest(tokenizer, manifest: str, align_cache: str, out: str | None = None,
                      map_manifest: str | None = None) -> dict:
    """Rows per utterance (``OUT/rows.jsonl``) and a summary (``OUT/summary.json``); returns the summary.

    ``map_manifest``: also the held-out unit accuracy (``measures.heldout_unit_accuracy``): each
    content unit's majority label counted on that manifest's syllables (e.g. the train split),
    scored on this one; unlike PNMI and purity it does not grow with the number of units."""
    from ..eval.metrics.units import heldout_unit_accuracy
    from ..tokenizers.registry import load

    tok = load(tokenizer) if isinstance(tokenizer, str) else tokenizer
    utts = list_inputs(manifest)
    aligned = align_manifest(utts, align_cache, progress=False)
    utts = [u for u in utts if u.id in aligned]
    counts = {(kind, tol): [0, 0, 0] for kind in ("tokens", "uniform") for tol in TOLERANCES}
    all_codes, labels, vowels, rows = [], [], [], []
    seconds = bits = 0.0
    num_syl = num_tok = 0
    t0 = time.perf_counter()
    for u in utts:
        wav, _ = load_audio(u.path, SAMPLE_RATE)
        dur = len(wav) / SAMPLE_RATE
        codes, spans = tok.codes_and_spans(wav)
        tokens = tok._make_tokens(codes, len(wav), SAMPLE_RATE)
        row_al = aligned[u.id]
        ref = reference_syllables(row_al["phones"], row_al["words"])
        syl = [(a, b) for a, b, pause in spans if not pause]
        is_syl = np.array([not p for _, _, p in spans], bool)
        lab, vow = overlap_labels(syl, ref)
        ref_b = boundaries(ref)
        row = {"id": u.id, "seconds": round(dur, 3), "syllables": len(syl), "tokens": len(spans),
               "ref_syllables": len(ref), "bits": tokens.bits}
        for kind, segs in (("tokens", syl), ("uniform", uniform_segments(wav, len(ref), tok.config))):
            hyp_b = boundaries(segs)
            for tol in TOLERANCES:
                h = match_boundaries(ref_b, hyp_b, tol)
                c = counts[(kind, tol)]
                c[0], c[1], c[2] = c[0] + h, c[1] + len(ref_b), c[2] + len(hyp_b)
                if kind == "tokens":
                    row[f"f1_{int(tol * 1000)}ms"] = round(scores_from_counts(h, len(ref_b), len(hyp_b))["f1"], 4)
        all_codes.append(codes)
        labels += lab
        vowels += vow
        seconds += dur
        bits += tokens.bits
        num_syl += len(syl)
        num_tok += len(spans)
        row["codes"] = codes.tolist()
        row["content_syllables"] = codes[0, is_syl].tolist()
        rows.append(row)
    elapsed = time.perf_counter() - t0
    codes = np.concatenate(all_codes, axis=1)
    syl_mask = codes[0] != tok.pause_code
    units = codes[0, syl_mask]

    def ids(xs):
        return np.unique(np.asarray(xs), return_inverse=True)[1]

    ql, qv = cluster_quality(ids(labels), units), cluster_quality(ids(vowels), units)
    summary = {
        "tokenizer": tok.name, "model_id": tok.model_id, "manifest": str(manifest), "utterances": len(utts),
        "seconds": round(seconds, 2), "syllables": num_syl, "ref_syllables": sum(r["ref_syllables"] for r in rows),
        "syllables_per_s": num_syl / seconds, "ref_syllables_per_s": sum(r["ref_syllables"] for r in rows) / seconds,
        "tokens_per_s": num_tok / seconds, "bits_per_s": bits / seconds,
        "entropy_bits_per_s": sum(_entropy_bits(c) for c in codes) * num_tok / seconds,
        "distinct_labels": len(set(labels)), "distinct_units": int(len(np.unique(units))),
        "pnmi_label": ql["pnmi"], "purity_label": ql["phone_purity"], "cluster_purity_label": ql["cluster_purity"],
        "pnmi_vowel": qv["pnmi"], "purity_vowel": qv["phone_purity"], "cluster_purity_vowel": qv["cluster_purity"],
        "pitch_voiced_share": float((codes[2, syl_mask] > 0).mean()) if syl_mask.any() else 0.0,
        "encode_seconds": round(elapsed, 2), "real_time_factor": elapsed / seconds,
    }
    if map_manifest:
        mu, ml, mv = content_and_labels(tok, map_manifest, align_cache)
        for name, train_l, test_l in (("label", ml, labels), ("vowel", mv, vowels)):
            _, inv = np.unique(np.asarray(list(train_l) + list(test_l)), return_inverse=True)
            summary[f"heldout_unit_acc_{name}"] = heldout_unit_accuracy(mu, inv[: len(train_l)], units, inv[len(train_l):])
        summary["map_manifest"] = str(map_manifest)
    for (kind, tol), (h, nr, nh) in counts.items():
        s = scores_from_counts(h, nr, nh)
        for key in ("precision", "recall", "f1", "os", "r_value"):
            summary[f"{kind}_{key}_{int(tol * 1000)}ms"] = s[key]
    summary = {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in summary.items()}
    if out:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        with open(o / "rows.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        (o / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
