"""Issue-9 targets from a `speechtok bench` summary: our source-filter codec against the classic
codecs measured in the same run, as a markdown table.

    python benchmarks/sourcefilter/targets.py benchmarks/sourcefilter/asterisk-test/summary.json
"""

import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "benchmarks/sourcefilter/asterisk-test/summary.json"
S = json.load(open(path))["tokenizers"]


def m(tok, metric):
    v = S.get(tok, {}).get("metrics", {}).get(metric, {})
    return v.get("mean") if isinstance(v, dict) else None


def ours_at(max_kbps):
    """Per model of ours (the name before "@"), its highest rate at or under ``max_kbps`` (measured),
    for the models that come within 80 % of it (a 25 Hz model is not a 1.5 kbps candidate)."""
    cand = [t for t in S if t.startswith("speechtok-") and (m(t, "kbps") or 1e9) <= max_kbps + 1e-9]
    best = {}
    for t in sorted(cand, key=lambda t: m(t, "kbps")):
        best[t.split("@")[0]] = t
    return [t for t in best.values() if m(t, "kbps") >= 0.8 * max_kbps]


def fmt(x, nd=3):
    return "–" if x is None else f"{x:.{nd}g}"


rows = [
    ("<= 1.5 kbps vs Opus 6 kbps CBR (the issue's reference)", 1.5, "opus@6kbps"),
    ("<= 1.5 kbps vs Opus 6 kbps VBR (stronger)", 1.5, "opus@6kbps-vbr"),
    ("<= 1.5 kbps vs Opus 8 kbps (stretch)", 1.5, "opus@8kbps"),
    ("<= 0.75 kbps vs Codec2 3200", 0.75, "codec2@3200"),
]
print("| target | ours | kbps | PESQ-WB | STOI | reference | kbps | PESQ-WB | STOI | met? |")
print("|---|---|---|---|---|---|---|---|---|---|")
for label, cap, ref in rows:
    if ref not in S:
        continue
    best = ours_at(cap)
    if not best:
        print(f"| {label} | (none measured) | | | | {ref} | | | | – |")
        continue
    for t in best:
        met = m(t, "pesq_wb") >= m(ref, "pesq_wb") and m(t, "stoi") >= m(ref, "stoi")
        print(f"| {label} | {t} | {fmt(m(t, 'kbps'))} | {fmt(m(t, 'pesq_wb'))} | {fmt(m(t, 'stoi'))} | {ref} | "
              f"{fmt(m(ref, 'kbps'))} | {fmt(m(ref, 'pesq_wb'))} | {fmt(m(ref, 'stoi'))} | {'**met**' if met else 'missed'} |")


def table(columns: list[tuple[str, str, int]]) -> None:
    """One row per tokenizer, lowest bitrate first: (header, metric, significant digits)."""
    print()
    print("| tokenizer | " + " | ".join(h for h, _, _ in columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for t in sorted(S, key=lambda t: (m(t, "kbps") or 0)):
        if t != "original":
            print(f"| {t} | " + " | ".join(fmt(m(t, k), nd) for _, k, nd in columns) + " |")


table([("kbps", "kbps", 3), ("speaker sim (>= 0.80 at <= 1.5 kbps)", "speaker_sim", 3), ("F0 GPE", "f0_gpe", 2),
       ("VDE", "vde", 2), ("F0 RMSE (Hz)", "f0_rmse", 3), ("dWER", "dwer", 2)])
table([("kbps", "kbps", 3), ("PESQ-WB", "pesq_wb", 3), ("STOI", "stoi", 3), ("DNSMOS OVRL", "dnsmos_ovrl", 3),
       ("speaker sim", "speaker_sim", 3), ("dWER", "dwer", 2)])
