"""The phone-unit teachers on isolated words they have not heard: token-stream PER on a validation
set of espeak_words, words and pseudo-words apart. This is where a teacher may be chosen for
isolated speech, instead of the LM bench's lexical test (lexical_per.py, the test, chooses nothing).

The set (data/espeak_words_valid) is built like the teachers' isolated-word training sets, with
another seed, and none of its words or phoneme strings is in the lexical test or in a training set
(each training set was built with ``--exclude`` of this one or this one with theirs):

    python -m speechtok.data.espeak_words --out data/espeak_words_valid --items 800 --seed 7 \\
        --exclude data/lm/lexical/pairs.jsonl data/espeak_words/alignments.jsonl \\
        --teacher speechtok/assets/phone_ctc_v5                                    # 580 items, 20 s

Its voices are the larger LM tier's five espeak-ng voices, which the v3+ teachers heard in
training: the set measures unseen words, not unseen voices. The last column is the same token-stream
PER on the real voice's valid split (asterisk-en valid, pocketsphinx alignments as reference), the
split that chose the default teacher. Reference: the phones each item's voice
said (its alignment row); hypothesis: the phone codebook of the item's tokens, pauses left out;
repeats merged on both sides.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/phone_units/words_valid_per.py v4 v5 v6 runs/phone_ctc_v6s/half v7 \\
        > benchmarks/phone_units/words_valid_per.md

(a version name is a shipped teacher; a folder, one written by ``phone_ctc --export``, e.g. the
ablation ``runs/phone_ctc_v6s``: v6's data at v5's width, assets/phone_ctc_v6/TRAINING.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
SET = ROOT / "data/espeak_words_valid/alignments.jsonl"


def main(versions: list[str]) -> int:
    import torch

    from refsets import dedup

    from speechtok.audio import load_audio
    from speechtok.data.phones import PHONE_TO_ID
    from speechtok.dsp import edit_distance
    from speechtok.syllables.phone_units import PhoneUnitTokenizer

    torch.set_num_threads(1)
    if not SET.exists():
        raise SystemExit(f"{SET}: missing; build it with the command in this script's docstring")
    rows = [json.loads(x) for x in SET.read_text().splitlines() if x.strip()]
    rows = [r for r in rows if not r.get("error")]
    refs = [dedup([PHONE_TO_ID[p] for p, _, _ in r["phones"] if p != "SIL"]) for r in rows]
    wavs = [load_audio(r["path"], 16000)[0] for r in rows]
    kinds = [r["kind"] for r in rows]
    print("# Token-stream PER of the phone-unit teachers on unheard isolated words\n")
    print(f"Written by benchmarks/phone_units/words_valid_per.py: {kinds.count('word')} words and "
          f"{kinds.count('pseudo')} pseudo-words of data/espeak_words_valid (seen voices, unseen words), "
          "each said on its own. A validation set: a teacher may be chosen on it.\n")
    from refsets import asterisk_valid
    from speechtok.data.phones import phone_sequence

    real = asterisk_valid()  # the real voice's valid split, pocketsphinx alignments as reference
    print("| teacher | words | pseudo-words | all | real voice, valid split (21 utterances) |")
    print("|---|---:|---:|---:|---:|")
    for v in versions:
        tok = PhoneUnitTokenizer(teacher=v)
        err = {"word": [0, 0], "pseudo": [0, 0]}
        for wav, ref, kind in zip(wavs, refs, kinds):
            hyp = dedup([lab + 1 for lab in tok.labelled_spans(wav)[1]])
            err[kind][0] += edit_distance(ref, hyp)
            err[kind][1] += len(ref)
        per = lambda e: f"{e[0] / max(1, e[1]):.3f}"  # noqa: E731
        allc = [err["word"][0] + err["pseudo"][0], err["word"][1] + err["pseudo"][1]]
        re_ = [0, 0]
        for w16, segs in real:
            ref = dedup(phone_sequence(segs))
            hyp = dedup([lab + 1 for lab in tok.labelled_spans(w16.astype("float32") / 32767)[1]])
            re_[0] += edit_distance(ref, hyp)
            re_[1] += len(ref)
        name = f"phone-units:{v}" if not Path(v).exists() else f"teacher folder {Path(v).resolve().relative_to(ROOT)}"
        print(f"| `{name}` | {per(err['word'])} | {per(err['pseudo'])} | {per(allc)} | {per(re_)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["v4", "v5"]))
