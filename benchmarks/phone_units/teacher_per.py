"""Greedy phone error rate of PhoneCTC teachers on three sets none of them trained on:

- asterisk-en valid (the studio voice the teachers trained on, other prompts; used to choose),
- asterisk-en test (same voice; reported only, never used to choose),
- the espeak-ng voices of the small LM tier's fortunes (en-us, en-us_f3, en-gb: a synthesizer no
  teacher saw in training, the family the lexical test is spoken by), references from pocketsphinx
  forced alignment of the fortune's text (cached in data/align/fortunes-espeak.jsonl),
- the same voices' 180 fortunes with the phones the voice said as reference (espeak-ng's own ``-x``
  phonemes in ARPAbet, ``speechtok.data.teacher_align``; no aligner in between, so every utterance),
- 60 of those texts read by en-us+m3, the LM bench's held-out lexical voice (no teacher trained on it),
  exact phones as reference.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phone_units/teacher_per.py speechtok/assets/phone_ctc \
        speechtok/assets/phone_ctc_v2 speechtok/assets/phone_ctc_v3 speechtok/assets/phone_ctc_v4 speechtok/assets/phone_ctc_v5 speechtok/assets/phone_ctc_v6

(its table is the one in benchmarks/phone_units/teacher_per.md, whose notes are written by hand)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(folders: list[str]) -> int:
    import torch

    from refsets import espeak_fortunes, espeak_fortunes_exact, espeak_heldout

    from speechtok.data.forced_align import read_alignments
    from speechtok.data.manifest import list_inputs
    from speechtok.teachers.phone_ctc import PhoneCTC, evaluate, load_aligned

    torch.set_num_threads(1)
    sets = {}
    aster = read_alignments(ROOT / "data/align/asterisk-en.jsonl")
    for split in ("valid", "test"):
        ids = [u.id for u in list_inputs(ROOT / f"data/asterisk-en/{split}.jsonl")]
        sets[f"asterisk-en {split}"] = [aster[i] for i in ids if i in aster]
    items = {k: load_aligned(v) for k, v in sets.items()}
    items["espeak-ng fortunes"] = espeak_fortunes()
    items["espeak-ng fortunes, exact phones"] = espeak_fortunes_exact()
    items["espeak-ng en-us+m3 (held out), exact phones"] = espeak_heldout()
    print("| teacher | " + " | ".join(f"{k} ({len(v)} utts)" for k, v in items.items()) + " |")
    print("|---|" + "---:|" * len(items))
    for f in folders:
        model = PhoneCTC.load(f)
        meta = json.loads((Path(f) / "config.json").read_text())
        pers = [evaluate(model, v, max_items=len(v)) for v in items.values()]
        print(f"| `{f}` ({meta.get('train_utts', '?')} training utterances, {meta.get('steps', '?')} steps) | "
              + " | ".join(f"{p:.3f}" for p in pers) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
