"""Issue-3 targets from benchmarks/asterisk-test/summary.json: our codec against the classic
codecs at comparable or higher bitrates, printed as a markdown table. Opus is taken at its best
at each rate: CBR (opus@Nkbps) or VBR (opus@Nkbps-vbr), whichever scores the higher PESQ-WB.

    python benchmarks/codec-targets/targets.py [benchmarks/asterisk-test/summary.json]
"""

import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "benchmarks/asterisk-test/summary.json"
S = json.load(open(path))["tokenizers"]


def m(tok, metric):
    return S[tok]["metrics"][metric]["mean"]


def best(prefix, max_kbps):
    """Our tokenizer with the highest PESQ-WB at or under max_kbps (measured)."""
    ours = [t for t in S if t.startswith(prefix) and m(t, "kbps") <= max_kbps + 1e-9]
    return max(ours, key=lambda t: m(t, "pesq_wb")) if ours else None


def strongest(name):
    """opus@Nkbps or opus@Nkbps-vbr, whichever has the higher PESQ-WB (other names as given)."""
    options = [t for t in (name, name + "-vbr") if t in S] if name.startswith("opus@") else [name]
    return max(options, key=lambda t: m(t, "pesq_wb"))


rows = [
    ("<= 1.5 kbps vs Opus 6 kbps", "speechtok-", 1.52, "opus@6kbps"),
    ("<= 1.5 kbps vs Opus 8 kbps (stretch)", "speechtok-", 1.52, "opus@8kbps"),
    ("<= 0.75 kbps vs Codec2 3200", "speechtok-", 0.78, "codec2@3200"),
]
print("| target | ours | kbps | PESQ-WB | STOI | reference | kbps | PESQ-WB | STOI | met? |")
print("|---|---|---|---|---|---|---|---|---|---|")
for label, prefix, cap, ref in rows:
    t = best(prefix, cap)
    ref = strongest(ref)
    ok = m(t, "pesq_wb") >= m(ref, "pesq_wb") and m(t, "stoi") >= m(ref, "stoi")
    print(
        f"| {label} | {t} | {m(t, 'kbps'):.2f} | {m(t, 'pesq_wb'):.2f} | {m(t, 'stoi'):.3f} | {ref} | "
        f"{m(ref, 'kbps'):.2f} | {m(ref, 'pesq_wb'):.2f} | {m(ref, 'stoi'):.3f} | {'yes' if ok else 'no'} |"
    )
