"""How good must a phone teacher be for the lexical target? Lexical score against phone error rate:
the small LM tier's `phones:per<P>` rows (the topline with simulated independent recognition
errors at rate P; speechtok/lm/topline.py) next to the `phone-units` rows, placed at their own
token stream's PER on espeak-ng speech (the lexical test's synthesizer family).

The phone-unit PER is measured here: each teacher's run labels (``PhoneUnitTokenizer``, the tokens'
phone codebook, pauses left out) against the phones the small tier's espeak-ng fortunes (en-us,
en-us+f3, en-gb; 180 utterances) said, espeak-ng's own phonemes in ARPAbet (refsets.espeak_fortunes_exact),
consecutive repeats merged on both sides; beside it the PER against pocketsphinx forced alignments
of the same fortunes' text (the 94 it could align; CMUdict pronunciations, so a floor of dictionary
mismatch is in it). The v3, v4 and v5 teachers trained on these three voices (teacher_per.md), so
their PER there is a seen-voice figure.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phone_units/per_curve.py > benchmarks/phone_units/per_curve.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from speechtok.lm.bench import fraction_of_topline, read_results, topline_of  # noqa: E402
from speechtok.lm.topline import parse_topline, topline_error_rate  # noqa: E402

SMALL = ROOT / "benchmarks" / "lm" / "small"
UNITS = ("v1", "v2", "v3", "v4", "v5")
TARGET = 0.75  # issue 18: >= 75 % of the topline's lexical margin


def stream_per() -> tuple[dict[str, dict[str, float]], dict[str, int]]:
    """Reference set (``exact``, ``pocketsphinx``) -> teacher version -> PER of its phone-unit stream."""
    import torch

    from refsets import dedup, espeak_fortunes, espeak_fortunes_exact

    from speechtok.data.phones import phone_sequence
    from speechtok.dsp import edit_distance
    from speechtok.syllables.phone_units import PhoneUnitTokenizer

    torch.set_num_threads(1)
    out, sizes = {}, {}
    for name, items in (("exact", espeak_fortunes_exact()), ("pocketsphinx", espeak_fortunes())):
        refs = [dedup(phone_sequence(segs)) for _, segs in items]
        sizes[name], out[name] = len(items), {}
        for v in UNITS:
            tok = PhoneUnitTokenizer(teacher=v)
            errs = 0
            for (w, _), ref in zip(items, refs):
                _, labels = tok.labelled_spans(w.astype(np.float32) / 32767)
                errs += edit_distance(ref, dedup([lab + 1 for lab in labels]))  # labels 0..38 -> phone ids 1..39
            out[name][v] = errs / sum(map(len, refs))
    return out, sizes


def main() -> int:
    rows = {r["spec"]: r for r in read_results(SMALL / "results.jsonl")}
    top = topline_of(list(rows.values()))
    if top is None:
        print("no phone topline row in benchmarks/lm/small/results.jsonl: run benchmarks/lm/run.sh")
        return 1
    top_m = top["lexical"]["sum"]["matched"]
    all_pers, sizes = stream_per()
    pers = all_pers["exact"]
    points = []  # (per, spec, row)
    for spec, r in rows.items():
        if parse_topline(r["tokenizer"]) == 0.0 and spec == r["tokenizer"]:
            points.append((topline_error_rate(spec), spec, r))
    for v in UNITS:
        spec = f"phone-units:{v}+codebooks=1"
        if spec in rows:
            points.append((pers[v], spec, rows[spec]))
    points.sort(key=lambda p: (p[0], p[1]))
    print("# Lexical score against phone error rate (small LM tier)\n")
    print("Written by benchmarks/phone_units/per_curve.py; rows from benchmarks/lm/small/results.jsonl "
          "(reproduce: benchmarks/phone_units/per_curve.sh). Lexical = summed score on the length-matched items; "
          "of topline = (score - 50) / (topline - 50). `phones:per<P>`: the deduplicated phone topline with "
          "independent substitutions, deletions and insertions at phone error rate P in training speech and test "
          "items alike (simulated, not measured). `phone-units` rows: PER of the token stream measured on "
          f"the {sizes['exact']} espeak-ng fortunes of the small tier's three voices against the phones the voices said "
          f"(espeak-ng's own phonemes in ARPAbet; in brackets: against pocketsphinx alignments of their text, the "
          f"{sizes['pocketsphinx']} it could align). The v3, v4 and v5 teachers trained on these voices.\n")
    print("| row | phone error rate | lexical % [CI] | of topline | held-out voice % | LM bits/s |")
    print("|---|---:|---|---:|---:|---:|")
    for per, spec, r in points:
        m = r["lexical"]["sum"]["matched"]
        held = (r["lexical"]["sum"].get("held_out_voice") or {}).get("acc")
        frac = fraction_of_topline(m["acc"], top_m)
        kind = (f"measured; {all_pers['pocketsphinx'][spec.split(':')[1].split('+')[0]]:.3f}" if not spec.startswith("phones")
                else "simulated" if per else "none: the text's phones")
        print(f"| `{spec}` | {per:.3f} ({kind}) | {m['acc']:.1f} [{m['ci'][0]:.1f}, {m['ci'][1]:.1f}] | "
              f"{'–' if frac is None else f'{frac:.2f}'} | {'–' if held is None else f'{held:.1f}'} | "
              f"{r['test']['bits_per_second']:.0f} |")
    sim = [(per, fraction_of_topline(r["lexical"]["sum"]["matched"]["acc"], top_m)) for per, spec, r in points
           if spec.startswith("phones")]
    sim = [(p, f) for p, f in sim if f is not None]
    cross = next((a[0] + (b[0] - a[0]) * (a[1] - TARGET) / (a[1] - b[1]) for a, b in zip(sim, sim[1:])
                  if a[1] >= TARGET > b[1]), None)
    if cross is not None:
        print(f"\nWith independent errors, {TARGET:.0%} of the topline's margin is kept up to a phone error rate of "
              f"about {cross:.2f} (linear between the simulated rows around it).")
    print("\nThe simulated rows have one error rate for training speech and test items; a teacher does not. "
          "On the lexical test's own recordings (single words and non-words said on their own) the v4 and v5 "
          "streams' PER is several times their PER on read fortunes (benchmarks/phone_units/lexical_per.md): "
          "the test items are where the teachers still mishear.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
