"""A spoken syntactic test in the spirit of sBLIMP (ZeroSpeech 2021), built offline from templates.

Each pair is a grammatical sentence and an ungrammatical one that differ minimally, made from
small word lists by templates, one phenomenon at a time (BLiMP's idea):

- ``subject_verb``: agreement of the verb with its subject (``the dogs run`` / ``the dogs runs``);
- ``determiner_noun``: a demonstrative agreeing in number with its noun (``this dog`` / ``these dog``);
- ``anaphor``: a reflexive agreeing in gender with its antecedent (``the man hurt himself`` / ``herself``);
- ``participle``: the participle after ``has`` (``she has eaten`` / ``she has ate``);
- ``word_order``: the same words, two adjacent ones swapped (``the old dog runs`` / ``the old runs dog``);
- ``irregular_past``: an irregular past against its regularized form (``she went`` / ``she goed``).

Both sentences of a pair are read by the same espeak-ng voice (the lexical test's voices: two seen
in training, one held out), ids ``<voice>/<pair>-w`` (grammatical) and ``<voice>/<pair>-n``, so the
lexical test's scoring (``lexical.item_outcomes``) and its duration controls apply unchanged; the
summary breaks the items down by phenomenon. ``word_order`` pairs have the same words, so their
two recordings have about the same length; the others do not, and the "pick the shorter one" rule
is printed beside the LMs for that reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .lexical import HELD_OUT_VOICE, SEEN_VOICES, speak_pair_test

NOUNS = [("dog", "dogs"), ("cat", "cats"), ("girl", "girls"), ("boy", "boys"), ("teacher", "teachers"),
         ("doctor", "doctors"), ("bird", "birds"), ("farmer", "farmers"), ("child", "children"), ("student", "students"),
         ("friend", "friends"), ("neighbor", "neighbors"), ("horse", "horses"), ("pilot", "pilots"), ("singer", "singers")]
VERBS = [("runs", "run"), ("sleeps", "sleep"), ("sings", "sing"), ("walks", "walk"), ("waits", "wait"), ("laughs", "laugh"),
         ("works", "work"), ("smiles", "smile"), ("jumps", "jump"), ("swims", "swim"), ("reads", "read"), ("cooks", "cook")]
TAILS = ["every morning", "in the garden", "near the river", "after lunch", "at night", "on weekends", "with a friend"]
ADJECTIVES = ["old", "young", "small", "happy", "tall", "quiet", "busy", "clever"]
MALE = ["man", "boy", "king", "father", "brother", "prince"]
FEMALE = ["woman", "girl", "queen", "mother", "sister", "princess"]
REFLEXIVE_VERBS = ["hurt", "saw", "blamed", "helped", "washed", "praised"]
PARTICIPLES = [("eaten", "ate"), ("written", "wrote"), ("seen", "saw"), ("taken", "took"), ("given", "gave"),
               ("spoken", "spoke"), ("broken", "broke"), ("chosen", "chose"), ("driven", "drove"), ("known", "knew")]
OBJECTS = {"eaten": "the bread", "written": "a letter", "seen": "the movie", "taken": "the bus", "given": "a gift",
           "spoken": "the truth", "broken": "the glass", "chosen": "a book", "driven": "the car", "known": "the answer"}
SUBJECTS = ["she", "he", "my friend", "the teacher", "our neighbor"]
IRREGULAR = [("went", "goed", "home"), ("ran", "runned", "to school"), ("ate", "eated", "the soup"),
             ("came", "comed", "home late"), ("saw", "seed", "the bird"), ("took", "taked", "the train"),
             ("gave", "gived", "a speech"), ("wrote", "writed", "a song"), ("sang", "singed", "a song"),
             ("drank", "drinked", "the milk")]
WHEN = ["yesterday", "last night", "on monday", "this morning"]
PHENOMENA = ("subject_verb", "determiner_noun", "anaphor", "participle", "word_order", "irregular_past")


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def make_pair(phenomenon: str, rng: np.random.Generator) -> tuple[str, str]:
    """(grammatical, ungrammatical) sentence of one phenomenon."""
    if phenomenon == "subject_verb":
        (sg, pl), (vs, vp), tail = _pick(rng, NOUNS), _pick(rng, VERBS), _pick(rng, TAILS)
        if rng.random() < 0.5:
            return f"the {sg} {vs} {tail}", f"the {sg} {vp} {tail}"
        return f"the {pl} {vp} {tail}", f"the {pl} {vs} {tail}"
    if phenomenon == "determiner_noun":
        (sg, pl), adj = _pick(rng, NOUNS), _pick(rng, ADJECTIVES)
        if rng.random() < 0.5:
            return f"I know this {adj} {sg}", f"I know these {adj} {sg}"
        return f"I know these {adj} {pl}", f"I know this {adj} {pl}"
    if phenomenon == "anaphor":
        verb = _pick(rng, REFLEXIVE_VERBS)
        if rng.random() < 0.5:
            noun = _pick(rng, MALE)
            return f"the {noun} {verb} himself", f"the {noun} {verb} herself"
        noun = _pick(rng, FEMALE)
        return f"the {noun} {verb} herself", f"the {noun} {verb} himself"
    if phenomenon == "participle":
        (part, past), subj = _pick(rng, PARTICIPLES), _pick(rng, SUBJECTS)
        aux = "have" if subj in ("I", "we", "they") else "has"
        return f"{subj} {aux} {part} {OBJECTS[part]}", f"{subj} {aux} {past} {OBJECTS[part]}"
    if phenomenon == "word_order":
        (sg, _), (vs, _), adj, tail = _pick(rng, NOUNS), _pick(rng, VERBS), _pick(rng, ADJECTIVES), _pick(rng, TAILS)
        return f"the {adj} {sg} {vs} {tail}", f"the {adj} {vs} {sg} {tail}"
    if phenomenon == "irregular_past":
        (good, bad, rest), subj, when = _pick(rng, IRREGULAR), _pick(rng, SUBJECTS), _pick(rng, WHEN)
        return f"{when} {subj} {good} {rest}", f"{when} {subj} {bad} {rest}"
    raise ValueError(f"unknown phenomenon {phenomenon!r}; choose from {', '.join(PHENOMENA)}")


def build_pairs(per_phenomenon: int, seed: int = 0, phenomena: Sequence[str] = PHENOMENA) -> list[dict]:
    """``per_phenomenon`` distinct pairs of each phenomenon (fewer if the templates run out)."""
    rng = np.random.default_rng(seed)
    pairs, seen = [], set()
    for ph in phenomena:
        made, tries = 0, 0
        while made < per_phenomenon and tries < per_phenomenon * 50:
            tries += 1
            good, bad = make_pair(ph, rng)
            if good in seen or good == bad:
                continue
            seen.add(good)
            pairs.append({"pair": len(pairs), "phenomenon": ph, "good": good, "bad": bad})
            made += 1
    return pairs


def synthesize_pairs(pairs: list[dict], out_dir: str | Path, voices: Sequence[str] = SEEN_VOICES + (HELD_OUT_VOICE,),
                     held_out: Sequence[str] = (HELD_OUT_VOICE,), progress: bool = True) -> Path:
    """Speak both sentences of every pair in every voice (resumable); writes ``pairs.jsonl``,
    ``meta.json`` and ``manifest.jsonl`` (the layout of the lexical test). Returns the manifest."""

    def say(p: dict, kind: str) -> tuple[str, str]:
        sentence = p["good"] if kind == "w" else p["bad"]
        return sentence, sentence

    return speak_pair_test(pairs, out_dir, voices, held_out, say, {"test": "syntactic"}, "syntactic", progress)
