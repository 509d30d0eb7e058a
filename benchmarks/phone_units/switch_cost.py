"""Phone-unit token-stream PER against the smoothing's switch cost (``phone-units:vN:sX``), for
teachers v2 and v3 on the English Asterisk valid split (the real studio voice, other prompts than
the teachers trained on; the split that chooses) and on the small LM tier's aligned espeak-ng
fortunes (per_curve.py's set; v3 trained on those voices). References: pocketsphinx forced
alignments (cached in data/align/), consecutive repeats merged on both sides, pauses left out.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phone_units/switch_cost.py > benchmarks/phone_units/switch_cost.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

COSTS = (0.5, 1, 2, 3, 4, 6, 8)

def main() -> int:
    import torch

    from refsets import asterisk_valid, dedup, espeak_fortunes

    from speechtok.data.phones import phone_sequence
    from speechtok.dsp import edit_distance
    from speechtok.syllables.phone_units import DEFAULT_SWITCH_COST, PhoneUnitTokenizer, runs, smooth_labels

    torch.set_num_threads(1)
    sets = {"asterisk-en valid": asterisk_valid(), "espeak-ng fortunes": espeak_fortunes()}
    print("# Phone-unit stream PER against the switch cost\n")
    print(f"Written by benchmarks/phone_units/switch_cost.py (its docstring says what and how). The default "
          f"switch cost is {DEFAULT_SWITCH_COST:g}.\n")
    print("| teacher | set (utterances) | " + " | ".join(f"s{c:g}" for c in COSTS) + " |")
    print("|---|---|" + "---:|" * len(COSTS))
    for v in ("v2", "v3"):
        tok = PhoneUnitTokenizer(teacher=v)
        for name, items in sets.items():
            logs = [np.log(np.maximum(tok.posteriors(w.astype(np.float32) / 32767), 1e-8)) for w, _ in items]
            refs = [dedup(phone_sequence(segs)) for _, segs in items]
            cells = []
            for c in COSTS:
                errs = sum(edit_distance(r, dedup([lab for lab, _, _ in runs(smooth_labels(lp, c)) if lab]))
                           for lp, r in zip(logs, refs))
                cells.append(f"{errs / sum(map(len, refs)):.3f}")
            print(f"| {v} | {name} ({len(items)}) | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
