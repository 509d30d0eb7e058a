"""The quantizer table of issue 18, item 3: rate-distortion (from the fitted files' headers) and the
LM bench (from benchmarks/lm/small/results.jsonl) of every feature-VQ tokenizer, beside the phone
topline and the MFCC k-means reference. Markdown to stdout; run by benchmarks/quantizers/lm/run.sh.

    .venv/bin/python benchmarks/quantizers/lm/report.py > benchmarks/quantizers/lm/results.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from speechtok import quantizers as Q  # noqa: E402
from speechtok.lm.bench import REFERENCE, Spec, fraction_of_topline, read_results, topline_of  # noqa: E402
from speechtok.lm.lexical import controlled, paired_test  # noqa: E402
from speechtok.tokenizers import feature_vq as F  # noqa: E402

SMALL = ROOT / "benchmarks" / "lm" / "small"
QUANT_LABEL = {"kmeans": "k-means (1 x 1024)", "rkm": "residual k-means (2 x 32)",
               "mcrvq": "masked-channel RVQ (2 x 32)", "lfq": "LFQ (10 sign bits)", "bsq": "BSQ (10 sign bits)",
               "se": "SECodec structural entropy (1024 parts)"}


def items(spec: str, test: str = "lexical") -> list[dict]:
    p = SMALL / f"{test}_items" / f"{Spec.parse(spec).slug}.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


def main() -> int:
    rows = {r["spec"]: r for r in read_results(SMALL / "results.jsonl")}
    top = topline_of(list(rows.values()))
    top_m = top["lexical"]["sum"]["matched"] if top else None
    ref_items = items(REFERENCE)
    keep = {(i["pair"], i["voice"]) for i in controlled(ref_items)}
    out = ["# The papers' quantizers on the same features and budget: rate-distortion and the LM bench", "",
           "Each quantizer (speechtok.quantizers) over the same 50 Hz frame features at 10 bits per frame, one token of 1,024 per "
           "frame (stages combined into one id): `mfcc` = the MFCC k-means reference's 39 pooled MFCC+deltas, standardised; "
           "`fused` = the same with the shipped PhoneCTC's 40 frame posteriors appended (square roots, scaled to the MFCC block's "
           "total variance): FuseCodec's fusion of a semantic teacher into the quantized vector. Fitted on the English Asterisk "
           "train split (508 utterances, 22.8 min, one voice), distortion on its valid split (21 utterances, same voice). LM "
           "columns: the small tier of benchmarks/lm (1 M-parameter LM, 400 steps, 1.01 h of speech; lexical = summed score "
           "on the length-matched items; *of topline* = (score - 50) / (topline - 50); *vs MFCC* = difference from "
           f"`{REFERENCE}` on the same matched items [bootstrap 95% CI] and the sign test's p).", "",
           "Reproduce: `benchmarks/lm/run.sh && benchmarks/quantizers/lm/run.sh` (written by benchmarks/quantizers/lm/report.py).", "",
           "| features | quantizer | held-out MFCC MSE (of variance) | code perplexity | fit CPU-s | LM bits/s | lexical, matched % [CI] | of topline | vs MFCC, matched | p | syntactic, all % |",
           "|---|---|---:|---:|---:|---:|---|---:|---|---:|---:|"]

    def lm_cells(spec: str) -> str:
        r = rows.get(spec)
        if not r or not r.get("lexical"):
            return "| – | not run | | | | |"
        m = r["lexical"]["sum"]["matched"]
        frac = fraction_of_topline(m["acc"], top_m)
        cells = f"| {r['test']['bits_per_second']:.0f} | {m['acc']:.1f} [{m['ci'][0]:.1f}, {m['ci'][1]:.1f}] | " \
                f"{'–' if frac is None else f'{frac:.2f}'} |"
        its = [i for i in items(spec) if (i["pair"], i["voice"]) in keep]
        if spec != REFERENCE and its and ref_items:
            pt = paired_test(its, ref_items, score="sum")
            cells += f" {pt['diff']:+.1f} [{pt['ci'][0]:+.1f}, {pt['ci'][1]:+.1f}] | {pt['p_sign_test']:.2g} |"
        else:
            cells += " | |"
        syn = (r.get("syntactic") or {}).get("sum", {}).get("all")
        return cells + (f" {syn['acc']:.1f} |" if syn else " – |")

    for spec, label in (("phones", "phone topline (no quantizer)"), (REFERENCE, "k-means (1 x 500), the reference")):
        out.append(f"| {'phones' if spec == 'phones' else 'mfcc'} | {label} | | | " + lm_cells(spec))
    for feat in F.FEATURES:
        for q in F.QUANTIZER_NAMES:
            p = F.asset_path(feat, 50.0, q, 10)
            if not p.exists():
                continue
            rep = Q.load(p)[1]["report"]
            v = rep["valid"]
            out.append(f"| {feat} | {QUANT_LABEL[q]} | {v['mfcc_mse']:.3f} ({v['mfcc_mse'] / v['mfcc_var']:.2f}) | "
                       f"{v['perplexity']:.0f} | {rep['fit_cpu_s']:.0f} " + lm_cells(f"{feat}-vq@50hz:{q}10"))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
