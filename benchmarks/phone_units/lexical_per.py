"""Where the phone-unit rows lose the lexical test: the teachers' token-stream PER on the lexical
test's own recordings, words and non-words apart, seen voices and the held-out voice apart.

A diagnosis, not a score: the LM bench's lexical items (data/lm/lexical: a word and a non-word a
phoneme or two away, each spoken by espeak-ng from its phoneme string) are the test, so nothing is
chosen on this. Reference: the phoneme string each item was spoken from, through espeak-ng ``-x``
in ARPAbet (speechtok.data.teacher_align); hypothesis: the phone codebook of the item's tokens
(``PhoneUnitTokenizer.labelled_spans``, pauses left out); repeats merged on both sides. If a
teacher hears non-words worse than words, it has learned which phone sequences are words (a
lexical prior from its training text) and pulls non-words towards them, which the LM then
cannot tell apart.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phone_units/lexical_per.py v3 v4 v5 v6 v7 > benchmarks/phone_units/lexical_per.md
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(versions: list[str]) -> int:
    import torch

    from refsets import dedup

    from speechtok.audio import load_audio
    from speechtok.data.manifest import list_inputs
    from speechtok.data.phones import PHONE_TO_ID
    from speechtok.data.teacher_align import espeak_words
    from speechtok.dsp import edit_distance
    from speechtok.lm.lexical import load_pairs
    from speechtok.syllables.phone_units import PhoneUnitTokenizer

    torch.set_num_threads(1)
    folder = ROOT / "data/lm/lexical"
    pairs, meta = load_pairs(folder)
    held = set(meta.get("held_out", []))
    by_pair = {p["pair"]: p for p in pairs}
    refs: dict[tuple[int, str, str], list[int]] = {}
    utts = list_inputs(folder / "manifest.jsonl")
    for u in utts:
        pair, kind = int(u.id.split("/")[1].split("-")[0]), u.id.split("-")[-1]
        voice = u.speaker.replace("_", "+")  # the folder's speaker en-us_f3 is espeak-ng voice en-us+f3
        key = (pair, kind, u.speaker)
        phon = by_pair[pair]["word_phonemes" if kind == "w" else "nonword_phonemes"]
        said = espeak_words(f"[[{phon}]]", voice)
        if not said:
            raise SystemExit(f"espeak-ng -v {voice} gave no phonemes for {phon!r}")
        refs[key] = dedup([PHONE_TO_ID[p] for w in said for p in w])
    print("# Token-stream PER of the phone-unit teachers on the lexical test's recordings\n")
    print(f"Written by benchmarks/phone_units/lexical_per.py ({len(utts)} recordings of {len(pairs)} pairs; "
          f"held-out voice: {', '.join(sorted(held))}). A diagnosis on the test items: nothing was chosen on it.\n")
    print("| teacher | words, seen voices | non-words, seen voices | words, held-out voice | non-words, held-out voice | pairs whose two token streams are identical |")
    print("|---|---:|---:|---:|---:|---:|")
    exact: dict[str, dict] = {}
    for v in versions:
        tok = PhoneUnitTokenizer(teacher=v)
        errs: dict[tuple[str, bool], list[int]] = {}
        hyps = {}
        for u in utts:
            pair, kind = int(u.id.split("/")[1].split("-")[0]), u.id.split("-")[-1]
            wav, _ = load_audio(u.path, 16000)
            _, labels = tok.labelled_spans(wav)
            hyp = dedup([lab + 1 for lab in labels])
            hyps[(pair, kind, u.speaker)] = hyp
            ref = refs[(pair, kind, u.speaker)]
            e = errs.setdefault((kind, u.speaker.replace("_", "+") in held), [0, 0])
            e[0] += edit_distance(ref, hyp)
            e[1] += len(ref)
        same = sum(hyps[(p, "w", s)] == hyps.get((p, "n", s)) for p, k, s in hyps if k == "w" and (p, "n", s) in hyps)
        total = sum(1 for p, k, s in hyps if k == "w" and (p, "n", s) in hyps)
        cell = lambda kind, h: f"{errs[(kind, h)][0] / max(1, errs[(kind, h)][1]):.3f}" if (kind, h) in errs else "–"  # noqa: E731
        print(f"| `phone-units:{v}` | {cell('w', False)} | {cell('n', False)} | {cell('w', True)} | {cell('n', True)} | "
              f"{same} of {total} ({same / max(1, total):.1%}) |")
        exact[v] = {k: hyps[k] == refs[k] for k in hyps}
    by_exactness(versions, exact, by_pair)
    return 0


def by_exactness(versions: list[str], exact: dict, by_pair: dict) -> None:
    """The larger LM tier's lexical score of each pair split by whether the teacher heard its two
    items exactly (token stream = the phones said), for words the LM's text has and has not."""
    import json

    tier = ROOT / "benchmarks/lm/large/lexical_items"
    rows = []
    for v in versions:
        f = tier / f"phone-units_{v}_codebooks_1.jsonl"
        if not f.exists():
            continue
        cells = {}
        for line in f.read_text().splitlines():
            it = json.loads(line)
            spk = it["voice"].replace("+", "_")
            w, n = exact[v].get((it["pair"], "w", spk)), exact[v].get((it["pair"], "n", spk))
            if w is None or n is None:
                continue
            case = "both" if w and n else ("word" if not w else "nonword")
            seen = by_pair[it["pair"]]["train_count"] > 0
            cells.setdefault((case, seen), []).append(it["sum"])
        fmt = lambda c: f"{100 * sum(cells[c]) / len(cells[c]):.1f} ({len(cells[c])})" if c in cells else "–"  # noqa: E731
        rows.append(f"| `phone-units:{v}` | " + " | ".join(fmt((case, seen)) for seen in (True, False)
                                                           for case in ("both", "word", "nonword")) + " |")
    if rows:
        print("\nThe larger LM tier's lexical score (summed, all items, % correct (n)) by whether the teacher heard "
              "the pair exactly: both token streams equal to the phones said, the word's stream wrong, or only the "
              "non-word's wrong; for words the LM's training text has (count 1+, counted on the small tier's text) "
              "and has not (count 0). Reads the rows' per-item files, benchmarks/lm/large/lexical_items/.\n")
        print("| teacher | count 1+: both exact | word misheard | only non-word misheard | count 0: both exact | word misheard | only non-word misheard |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        print("\n".join(rows))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["v4"]))
