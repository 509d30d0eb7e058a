"""Issue 18's target 5, read off the benches: the tokenizers at <= 12.5 AR steps per second, with
their LM bits/s and lexical score against the phone topline (small and larger LM tiers) and the
intelligibility of their resynthesis (runs/phone-units/resynth, written by run.sh).

    .venv/bin/python benchmarks/phone_units/report.py > benchmarks/phone_units/results.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "lowrate"))
from report import corpus_rates, table  # noqa: E402  (benchmarks/lowrate/report.py)

from speechtok.lm.bench import REFERENCE, Spec, fraction_of_topline, read_results, topline_of  # noqa: E402
from speechtok.lm.lexical import controlled, paired_test  # noqa: E402

TIERS = {"small": ROOT / "benchmarks" / "lm" / "small", "large": ROOT / "benchmarks" / "lm" / "large"}
RESYNTH = ROOT / "runs" / "phone-units" / "resynth"
# LM row -> the tokenizer whose decoded audio stands for it
CANDIDATES = [
    ("phone-units:v1+codebooks=1", "phone-units:v1"),
    ("phone-units:v2+codebooks=1", "phone-units:v2"),
    ("phone-units:v2+layout=delay", "phone-units:v2"),
    ("phone-units:v3+codebooks=1", "phone-units:v3"),
    ("phone-units:v3+layout=delay", "phone-units:v3"),
    ("phone-units:v4+codebooks=1", "phone-units:v4"),
    ("phone-units:v5+codebooks=1", "phone-units:v5"),
    ("phone-units:v6+codebooks=1", "phone-units:v6"),
    ("phone-units:v7+codebooks=1", "phone-units:v7"),
    ("syllables+codebooks=1", "syllables"),
    ("syllables+layout=delay", "syllables"),
    ("speechtok-fast-12p5hz@0.5kbps+skip=1+codebooks=1", "speechtok-fast-12p5hz@0.5kbps"),
    ("speechtok-fast-12p5hz@0.5kbps+layout=delay", "speechtok-fast-12p5hz@0.5kbps"),
    ("speechtok-fast-6p25hz@0.3875kbps+layout=delay", "speechtok-fast-6p25hz@0.3875kbps"),
]


def items(tier: Path, spec: str) -> list[dict]:
    p = tier / "lexical_items" / f"{Spec.parse(spec).slug}.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


def lm_cells(tier: Path, spec: str) -> str:
    rows = {r["spec"]: r for r in read_results(tier / "results.jsonl")} if (tier / "results.jsonl").exists() else {}
    r = rows.get(spec)
    if not r or not r.get("lexical"):
        return "| – | – | – | – "
    top = topline_of(list(rows.values()))
    m = r["lexical"]["sum"]["matched"]
    frac = fraction_of_topline(m["acc"], top["lexical"]["sum"]["matched"] if top else None)
    cell = f"| {r['test']['bits_per_second']:.0f} | {m['acc']:.1f} [{m['ci'][0]:.1f}, {m['ci'][1]:.1f}] | " \
           f"{'–' if frac is None else f'{frac:.2f}'} "
    ref = items(tier, REFERENCE)
    if ref:
        keep = {(i["pair"], i["voice"]) for i in controlled(ref)}
        its = [i for i in items(tier, spec) if (i["pair"], i["voice"]) in keep]
        pt = paired_test(its, ref, score="sum")
        return cell + f"| {pt['diff']:+.1f} (p {pt['p_sign_test']:.2g}) "
    return cell + "| – "


def main() -> int:
    small = {r["spec"]: r for r in read_results(TIERS["small"] / "results.jsonl")}
    large = {r["spec"] for r in read_results(TIERS["large"] / "results.jsonl")} if (TIERS["large"] / "results.jsonl").exists() else set()
    rates = corpus_rates(RESYNTH) if (RESYNTH / "rows.jsonl").exists() else {}
    orig = rates.get("original", {}).get("wer")
    tops = {t: topline_of(read_results(p / "results.jsonl")) for t, p in TIERS.items() if (p / "results.jsonl").exists()}
    out = ["# Tokens at <= 12.5 AR steps per second: LM score against the phone topline, and resynthesis", "",
           "Issue 18, target 5: a tokenizer at <= 12.5 AR steps/s whose resynthesis stays intelligible (pocketsphinx corpus "
           "WER at most twice the original's), reaching >= 75 % of the phone topline's lexical margin above chance at <= 120 "
           "LM bits/s on the larger tier. LM columns from benchmarks/lm/{small,large}/results.jsonl (lexical = summed score on "
           "the length-matched items; of topline = (score - 50) / (topline - 50); vs MFCC = points over "
           f"`{REFERENCE}` on the same matched items, sign test p). Resynthesis: `speechtok bench` on the English Asterisk "
           "test split (22 prompts, one real voice; never used to train or choose anything). Written by "
           "benchmarks/phone_units/report.py; reproduce with benchmarks/phone_units/run.sh.", ""]
    for t, top in tops.items():
        if top:
            m = top["lexical"]["sum"]["matched"]
            out.append(f"Phone topline, {t} tier: {m['acc']:.1f} % matched lexical, {top['test']['bits_per_second']:.0f} bits/s.")
    if orig:
        out.append(f"Original recordings: corpus WER {orig:.3f} (the target's bound: {2 * orig:.3f}).")
    out += ["", "| LM row | AR steps/s | small: bits/s | small: lexical % [CI] | small: of topline | small: vs MFCC "
            "| large: bits/s | large: lexical % [CI] | large: of topline | large: vs MFCC | resynthesis WER (/ original) |",
            "|---|---:|---:|---|---:|---|---:|---|---:|---|---|"]
    for spec, tok in CANDIDATES:
        r = small.get(spec)
        if r is None and spec not in large:
            continue  # a teacher version not measured
        steps = f"{r['test']['steps_per_second']:.1f}" if r else "–"
        w = rates.get(tok, {}).get("wer")
        res = f"{w:.3f} ({w / orig:.2f}x)" if w is not None and orig else "–"
        out.append(f"| `{spec}` | {steps} " + lm_cells(TIERS["small"], spec) + lm_cells(TIERS["large"], spec) + f"| {res} |")
    if (RESYNTH / "summary.json").exists():
        out += ["", "## Resynthesis", ""] + table(RESYNTH)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
