"""Per-voice tables and the issue-16 targets from `speechtok bench` runs of the held-out-voices protocol.

    python benchmarks/generalize/report.py RUN_DIR [RUN_DIR ...] > benchmarks/generalize/results.md

Each RUN_DIR is a bench output folder (rows.jsonl + inputs.jsonl, written by `speechtok bench`);
the voice of an utterance is the first part of its id (``ru_ivrvoice/vm-goodbye``) or its manifest
speaker. Prints, per run: mean PESQ-WB / STOI / speaker similarity per tokenizer, the same per
voice, and the target rows of issue 16 (ours at <= 1.5 kbps against Opus 6 kbps VBR, ours at
<= 0.75 kbps against Codec2 3200, speaker similarity >= 0.85).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

METRICS = ("pesq_wb", "stoi", "speaker_sim")


def load(run: Path):
    voice = {}
    for line in open(run / "inputs.jsonl"):
        u = json.loads(line)
        voice[u["id"]] = u.get("speaker") or u["id"].split("/")[0]
    vals = defaultdict(lambda: defaultdict(list))  # (tok, metric) -> voice -> values
    kbps = defaultdict(list)
    for line in open(run / "rows.jsonl"):
        r = json.loads(line)
        if r.get("error") or r.get("value") is None:
            continue
        if r["metric"] in METRICS:
            vals[(r["tokenizer"], r["metric"])][voice.get(r["utt"], r["utt"].split("/")[0])].append(r["value"])
        elif r["metric"] == "kbps":
            kbps[r["tokenizer"]].append(r["value"])
    return vals, {t: sum(v) / len(v) for t, v in kbps.items()}


def mean(xs):
    return sum(xs) / len(xs) if xs else None


def fmt(x, nd=3):
    return "–" if x is None else f"{x:.{nd}f}" if nd != 2 else f"{x:.2f}"


def overall(vals, tok, metric):
    """Mean over voices of the per-voice means (every voice weighs the same)."""
    per = [mean(v) for v in vals.get((tok, metric), {}).values()]
    return mean([p for p in per if p is not None])


def report(run: Path) -> str:
    vals, kbps = load(run)
    toks = sorted({t for t, _ in vals}, key=lambda t: (t.startswith(("opus", "codec2")), t))
    voices = sorted({v for key in vals for v in vals[key]})
    out = [f"### {run.name}", "", f"{len(voices)} voices: {', '.join(voices)}; means over voices (each voice weighs the same)", "",
           "| tokenizer | kbps | PESQ-WB | STOI | speaker sim |", "|---|---|---|---|---|"]
    for t in toks:
        out.append(f"| {t} | {fmt(kbps.get(t), 3)} | " + " | ".join(fmt(overall(vals, t, m), 2 if m == 'pesq_wb' else 3) for m in METRICS) + " |")
    out += ["", "Per voice, PESQ-WB / STOI / speaker similarity:", "",
            "| tokenizer | " + " | ".join(voices) + " |", "|---|" + "---|" * len(voices)]
    for t in toks:
        cells = []
        for v in voices:
            p, s, k = (mean(vals.get((t, m), {}).get(v, [])) for m in METRICS)
            cells.append(f"{fmt(p, 2)} / {fmt(s)} / {fmt(k, 2)}")
        out.append(f"| {t} | " + " | ".join(cells) + " |")
    # targets
    def best_at(limit):
        cands = [t for t in toks if not t.startswith(("opus", "codec2", "pcm", "mulaw")) and (kbps.get(t) or 1e9) <= limit + 1e-6]
        return max(cands, key=lambda t: overall(vals, t, "pesq_wb") or 0, default=None)

    out += ["", "| target | ours | PESQ-WB | STOI | spk | reference | PESQ-WB | STOI | met? |", "|---|---|---|---|---|---|---|---|---|"]
    for label, limit, ref in (("<= 1.5 kbps >= Opus 6 kbps VBR", 1.5, "opus@6kbps-vbr"),
                              ("<= 1.5 kbps >= Opus 6 kbps CBR", 1.5, "opus@6kbps"),
                              ("<= 0.75 kbps >= Codec2 3200", 0.75, "codec2@3200")):
        t = best_at(limit)
        if t is None or not any(k[0] == ref for k in vals):
            continue
        p, s, k = (overall(vals, t, m) for m in METRICS)
        rp, rs = overall(vals, ref, "pesq_wb"), overall(vals, ref, "stoi")
        met = p is not None and rp is not None and p >= rp and s >= rs
        spk = "" if limit < 1 else (" (spk >= 0.85: " + ("yes" if k and k >= 0.85 else "no") + ")")
        out.append(f"| {label} | {t} | {fmt(p, 2)} | {fmt(s)} | {fmt(k, 2)} | {ref} | {fmt(rp, 2)} | {fmt(rs)} | "
                   f"{'yes' if met else 'no'}{spk} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print("\n".join(report(Path(r)) for r in sys.argv[1:]))
