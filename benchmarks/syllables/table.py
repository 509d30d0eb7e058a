"""Markdown table of `python -m speechtok.syllables eval` summaries: table.py DIR..."""

import json
import sys
from pathlib import Path

ROWS = [
    ("utterances / seconds", lambda s: f"{s['utterances']} / {s['seconds']:.1f}"),
    ("syllables/s (tokens/s incl. pauses)", lambda s: f"{s['syllables_per_s']:.2f} ({s['tokens_per_s']:.2f})"),
    ("reference syllables/s", lambda s: f"{s['ref_syllables_per_s']:.2f}"),
    ("boundary P / R / F1 @ ±50 ms", lambda s: "{:.3f} / {:.3f} / **{:.3f}**".format(*(s[f"tokens_{k}_50ms"] for k in ("precision", "recall", "f1")))),
    ("R-value / OS @ ±50 ms", lambda s: f"{s['tokens_r_value_50ms']:.3f} / {s['tokens_os_50ms']:+.3f}"),
    ("boundary P / R / F1 @ ±20 ms", lambda s: "{:.3f} / {:.3f} / **{:.3f}**".format(*(s[f"tokens_{k}_20ms"] for k in ("precision", "recall", "f1")))),
    ("R-value @ ±20 ms", lambda s: f"{s['tokens_r_value_20ms']:.3f}"),
    ("uniform baseline F1 @ ±50 / ±20 ms", lambda s: f"{s['uniform_f1_50ms']:.3f} / {s['uniform_f1_20ms']:.3f}"),
    ("PNMI / purity vs syllable phone string", lambda s: f"{s['pnmi_label']:.3f} / {s['purity_label']:.3f}"),
    ("PNMI / purity vs nucleus vowel", lambda s: f"{s['pnmi_vowel']:.3f} / {s['purity_vowel']:.3f}"),
    ("held-out unit accuracy: phone string / vowel", lambda s: f"{s['heldout_unit_acc_label']:.3f} / {s['heldout_unit_acc_vowel']:.3f}"),
    ("distinct labels / distinct units", lambda s: f"{s['distinct_labels']} / {s['distinct_units']}"),
    ("bits/s (3 streams, fixed-length codes)", lambda s: f"{s['bits_per_s']:.1f}"),
    ("bits/s (unigram entropy of the streams)", lambda s: f"{s['entropy_bits_per_s']:.1f}"),
    ("syllables called voiced", lambda s: f"{s['pitch_voiced_share']:.2f}"),
    ("encode real-time factor (1 thread)", lambda s: f"{s['real_time_factor']:.3f}"),
]

dirs = [Path(d) for d in sys.argv[1:]]
sums = [json.loads((d / "summary.json").read_text()) for d in dirs]
print("| measure | " + " | ".join(d.name for d in dirs) + " |")
print("|---|" + "---|" * len(dirs))
for name, f in ROWS:
    print(f"| {name} | " + " | ".join(f(s) for s in sums) + " |")
print(f"\ntokenizer {sums[0]['tokenizer']}, model {sums[0]['model_id']}")
