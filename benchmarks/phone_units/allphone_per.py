"""A teacher that was tried and not kept: pocketsphinx's own phone recognizer (allphone mode with
its English phonetic LM, the acoustic model trained on many real speakers) as the ear of the
phone units. Greedy PER against the same references as teacher_per.py / switch_cost.py: the
English Asterisk valid split (pocketsphinx forced alignments) and the small tier's aligned
espeak-ng fortunes. Two settings: pocketsphinx's defaults, and a wider beam with a heavier phone LM
(lw 2, pip 0.3, beams 1e-20).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phone_units/allphone_per.py > benchmarks/phone_units/allphone_per.md
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SETTINGS = {"defaults": {}, "lw 2, pip 0.3, beams 1e-20": {"lw": 2.0, "pip": 0.3, "beam": 1e-20, "pbeam": 1e-20}}


def main() -> int:
    import pocketsphinx
    from pocketsphinx import Decoder

    from refsets import asterisk_valid, espeak_fortunes

    from speechtok.data.phones import phone_id, phone_sequence
    from speechtok.teachers.phone_ctc import phone_error_rate

    model = Path(pocketsphinx.__file__).parent / "model" / "en-us"
    sets = {"asterisk-en valid": asterisk_valid(), "espeak-ng fortunes": espeak_fortunes()}
    print("# pocketsphinx allphone as a phone teacher (tried, not kept)\n")
    print("Written by benchmarks/phone_units/allphone_per.py (its docstring says what). Greedy PER; "
          "teacher_per.md has the PhoneCTC teachers' on the same sets (v2: valid 0.296, espeak-ng 0.577; "
          "v3: 0.325 / 0.179).\n")
    print("| setting | " + " | ".join(f"{k} ({len(v)} utts)" for k, v in sets.items()) + " | x real time |")
    print("|---|" + "---:|" * (len(sets) + 1))
    for name, extra in SETTINGS.items():
        dec = Decoder(samprate=16000, loglevel="FATAL", allphone=str(model / "en-us-phone.lm.bin"), lm=None, **extra)
        pers, secs, took = [], 0.0, 0.0
        for items in sets.values():
            refs, hyps = [], []
            for w, segs in items:
                t = time.process_time()
                dec.start_utt()
                dec.process_raw(w.astype(np.int16).tobytes(), full_utt=True)
                dec.end_utt()
                hyp = [phone_id(s.word) for s in dec.seg() if s.word not in ("SIL", "+NSN+", "+SPN+", "<s>", "</s>")]
                took += time.process_time() - t
                secs += len(w) / 16000
                refs.append(phone_sequence(segs))
                hyps.append([h for h in hyp if h])
            pers.append(phone_error_rate(refs, hyps))
        print(f"| {name} | " + " | ".join(f"{p:.3f}" for p in pers) + f" | {secs / max(took, 1e-9):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
