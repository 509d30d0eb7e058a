"""Isolated words and pseudo-words spoken by espeak-ng voices, with the phones they said, aligned.

A phone teacher that learned from running speech alone hears a word said on its own worse (no
context on either side, the full stress and final lengthening of a citation form) and tends to
hear a pseudo-word as the word it resembles: it has learned which phone sequences are words. This
set gives a teacher both: words of Debian ``wamerican`` (4-9 letters) and pseudo-words made from
other words by the lexical test's own rule (``lm.lexical.make_nonword``: one or two consonants
swapped within their class), each spoken from its phoneme string (``[[...]]``) by one espeak-ng
voice, labelled with what that voice says for the string (``-x``, in ARPAbet) and timed by a
PhoneCTC teacher (``teacher_align.viterbi_align``). Words and pseudo-words of an ``--exclude``d
lexical test (its ``pairs.jsonl``) are never used, so a teacher trained on this has not heard the
test's items::

    python -m speechtok.data.espeak_words --out data/espeak_words --items 4000 \\
        --exclude data/lm/lexical/pairs.jsonl --teacher speechtok/assets/phone_ctc_v4

Writes ``wav/<voice>/<n>.wav``, ``manifest.jsonl`` and ``alignments.jsonl`` (rows as
``forced_align``'s); resumable (items already aligned are kept).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .phones import SAMPLE_RATE, segments_to_rows

VOICES = ("en-us", "en-us+f3", "en-gb", "en-gb+m1", "en-gb+f2")  # the larger LM tier's espeak-ng readers


def plan_items(n_items: int, exclude: Sequence[str] = (), voices: Sequence[str] = VOICES, seed: int = 0) -> list[dict]:
    """``n_items`` items, half words and half pseudo-words, each with a voice: ``{"n", "kind", "word",
    "phonemes", "voice"}``. ``exclude``: words and phoneme strings never to use (a test's items)."""
    from ..lm.lexical import _strip, candidate_words, make_nonword
    from ..lm.synthetic import espeak_phonemes

    rng = np.random.default_rng(seed)
    banned = set(exclude)
    words = [w for w in candidate_words() if w not in banned]
    pool = [words[i] for i in rng.choice(len(words), size=min(len(words), n_items), replace=False)]
    phons = espeak_phonemes(pool)
    real = {_strip(p) for p in phons} | {_strip(x) for x in banned}
    items = []
    for i, (w, p) in enumerate(zip(pool, phons)):
        if not p or " " in p:
            continue
        if i % 2:
            nw = make_nonword(p, rng, real)
            if nw is None or _strip(nw) in real:
                continue
            item = {"kind": "pseudo", "word": "", "phonemes": nw}
        else:
            item = {"kind": "word", "word": w, "phonemes": p}
        items.append({"n": len(items), **item, "voice": voices[len(items) % len(voices)]})
    return items


def exclusions(pairs_file: str | Path) -> list[str]:
    """The words and phoneme strings of a file whose items are never to be used: a lexical test's
    ``pairs.jsonl`` (the word and both members' phoneme strings) or another ``espeak_words`` set's
    ``alignments.jsonl`` / ``manifest.jsonl`` (its texts and phoneme strings; a validation set)."""
    out = []
    for n, line in enumerate(Path(pairs_file).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        p = json.loads(line)
        if "nonword_phonemes" in p:
            out += [p["word"], p["word_phonemes"], p["nonword_phonemes"]]
        elif "phonemes" in p:
            out += [x for x in (p.get("text"), p["phonemes"]) if x]
        else:
            raise ValueError(f"{pairs_file}:{n}: neither a lexical pair (word, word_phonemes, nonword_phonemes) "
                             "nor an espeak_words row (phonemes)")
    return out


def build(out_dir: str | Path, n_items: int, teacher: str | Path, exclude: Sequence[str] = (),
          voices: Sequence[str] = VOICES, seed: int = 0, progress: bool = True, id_prefix: str = "") -> Path:
    """Speak, label and align the planned items into ``out_dir``; returns the alignments file.
    ``id_prefix`` starts every utterance id (``<prefix><voice>/<n>``), so that several sets can
    train one teacher (its ``--align`` files need distinct ids)."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..lm.synthetic import synthesize
    from .forced_align import read_alignments
    from .teacher_align import ALIGNER_VERSION, TeacherAlignError, align_wav, espeak_words

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = plan_items(n_items, exclude, voices, seed)
    align_file, manifest = out / "alignments.jsonl", out / "manifest.jsonl"
    done = read_alignments(align_file, ok_only=False)
    with open(align_file, "a", encoding="utf-8") as f:
        for it in tqdm(items, desc="espeak-words", unit="item", disable=not progress):
            stem = f"{it['voice'].replace('+', '_')}/{it['n']:05d}"
            uid = id_prefix + stem
            if uid in done:
                continue
            path = out / "wav" / f"{stem}.wav"
            spoken = f"[[{it['phonemes']}]]"
            row = {"id": uid, "path": str(path.resolve()), "text": it["word"], "phonemes": it["phonemes"],
                   "kind": it["kind"], "aligner": ALIGNER_VERSION, "source": "espeak", "error": None}
            try:
                if not path.exists():
                    synthesize(spoken, it["voice"], path)
                wav, _ = load_audio(path, SAMPLE_RATE)
                row["num_samples"] = len(wav)
                row["phones"] = segments_to_rows(align_wav(wav, espeak_words(spoken, it["voice"]), teacher))
            except TeacherAlignError as e:
                row["error"] = f"{path}: {e}"
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
    rows = read_alignments(align_file)
    tmp = manifest.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows.values():
            f.write(json.dumps({"id": r["id"], "path": r["path"], "speaker": "espeak_" + r["id"].removeprefix(id_prefix).split("/")[0],
                                "language": "en", "text": r["text"], "split": "train"}) + "\n")
    tmp.replace(manifest)
    return align_file


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m speechtok.data.espeak_words",
                                description="Isolated words and pseudo-words spoken by espeak-ng voices, labelled and aligned.")
    p.add_argument("--out", required=True)
    p.add_argument("--items", type=int, default=4000, help="how many items (half words, half pseudo-words)")
    p.add_argument("--teacher", required=True, help="the PhoneCTC folder whose frame posteriors time the phones")
    p.add_argument("--exclude", nargs="*", default=[], help="lexical tests' pairs.jsonl (or other espeak_words sets' alignments.jsonl) whose items are never used")
    p.add_argument("--voices", nargs="+", default=list(VOICES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--id-prefix", default="", help="starts every utterance id (e.g. 'w2/'): sets that train one "
                   "teacher together need distinct ids")
    args = p.parse_args(argv)
    exclude = [x for f in args.exclude for x in exclusions(f)]
    path = build(args.out, args.items, args.teacher, exclude, args.voices, args.seed, id_prefix=args.id_prefix)
    print(f"{sum(1 for _ in open(path))} items in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
