"""The v3 teacher's extra data: 200 utterances (seed 0) of each espeak-ng and festival voice of the
larger LM tier's speech (data/lm/reading, built by benchmarks/lm/run_large.sh), as a manifest to
align (assets/phone_ctc_v2/TRAINING.md):

    .venv/bin/python benchmarks/phone_units/reading_sample.py      # -> data/align/reading-sample.jsonl
    python -m speechtok.data.forced_align data/align/reading-sample.jsonl --out data/align/reading-sample-aligned.jsonl
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from speechtok.data.manifest import list_inputs, write_manifest

    by = defaultdict(list)
    for u in list_inputs(ROOT / "data/lm/reading/train.jsonl"):
        by[u.speaker].append(u)
    rng = random.Random(0)
    pick = [u for s in sorted(by) if s.startswith(("espeak", "festival")) for u in rng.sample(by[s], 200)]
    out = ROOT / "data/align/reading-sample.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_manifest(out, pick)
    print(f"{len(pick)} utterances -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
