"""The training corpus for codecs that must hold on speech they never heard: many voices, split by voice.

``speechtok data speech`` builds three sources, each with its own builder and licence, and writes
manifests whose splits are fixed by *voice* (a held-out voice never has a single file in
training):

* ``asterisk/``: the three studio voices of ``speechtok data asterisk`` (en, es, fr, it); their
  train / valid / test split by file stays the *in-domain* test;
* ``prompts/``: four more real voices (``prompts.py``): Russian (G.722 wideband), Colombian Spanish
  and French (GSM, 8 kHz), Italian (8 kHz PCM);
* ``synthetic/``: festival, flite and espeak-ng voices (``synthetic.py``), for breadth.

Roles (fixed here, never chosen by looking at test scores):

=================  ============================================================================
test (real)        ru_ivrvoice (wideband), es_co (GSM), it_menardi (8 kHz): never in training,
                   never used to choose anything; ``test-voices.jsonl``
valid (real)       fr_armelle (GSM): design choices are made on it and the valid synthetic voices
test (synthetic)   flite slt / rms / awb, espeak en-us+f3 (the earlier unseen-voices set), festival
                   slt HTS (the same speaker as flite slt)
valid (synthetic)  festival ked, festival Czech dita, espeak fr+f1
train              the asterisk train split and every other synthetic voice
=================  ============================================================================
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from pathlib import Path

from .manifest import Utterance, read_manifest, write_manifest

TEST_REAL = ("ru_ivrvoice", "es_co", "it_menardi")
VALID_REAL = ("fr_armelle",)
TEST_SYNTHETIC = ("flite_slt", "flite_rms", "flite_awb", "espeak_en-us+f3", "festival_slt_hts")
VALID_SYNTHETIC = ("festival_ked", "festival_cs_dita", "espeak_fr+f1")
HELD_OUT = TEST_REAL + VALID_REAL + TEST_SYNTHETIC + VALID_SYNTHETIC


def _sample(utts: list[Utterance], per_voice: int, seed: int, min_seconds: float = 1.0) -> list[Utterance]:
    """A seeded sample of ``per_voice`` utterances of at least ``min_seconds`` from each voice
    (sorted by id; fixed by the seed and the ids only)."""
    by_voice: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        if (u.duration or 0) >= min_seconds:
            by_voice[u.speaker or ""].append(u)
    out = []
    for v in sorted(by_voice):
        pool = sorted(by_voice[v], key=lambda u: u.id)
        out += sorted(random.Random(f"{seed}:{v}").sample(pool, min(per_voice, len(pool))), key=lambda u: u.id)
    return out


def assign_voice_splits(asterisk: list[Utterance], others: list[Utterance], seed: int = 0,
                        valid_per_voice: int = 40, test_per_voice: int = 25) -> dict[str, list[Utterance]]:
    """The manifests of the corpus, by name (see the module docstring). ``asterisk`` utterances
    carry their in-domain split; ``others`` are split by voice."""
    def voice(u):
        return u.speaker or ""

    out: dict[str, list[Utterance]] = {}
    ast = {s: [u for u in asterisk if u.split == s] for s in ("train", "valid", "test")}
    train_others = [u for u in others if voice(u) not in HELD_OUT]
    for u in train_others:
        u.split = "train"
    out["train"] = ast["train"] + train_others
    valid_voices = _sample([u for u in others if voice(u) in VALID_REAL + VALID_SYNTHETIC], valid_per_voice, seed)
    for u in valid_voices:
        u.split = "valid"
    out["valid-voices"] = valid_voices
    out["valid"] = ast["valid"] + valid_voices
    out["test"] = ast["test"]
    out["test-voices"] = _sample([u for u in others if voice(u) in TEST_REAL], test_per_voice, seed)
    out["test-synthetic"] = _sample([u for u in others if voice(u) in TEST_SYNTHETIC], 12, seed)
    for name in ("test-voices", "test-synthetic"):
        for u in out[name]:
            u.split = "test"
    return out


def build_speech_corpus(out: str | os.PathLike, asterisk: str | os.PathLike | None = None, per_voice: int = 100,
                        seed: int = 0, jobs: int = 2, cache=None, progress: bool = True) -> dict[str, list[Utterance]]:
    """Build (or resume) every source under ``out`` and write ``out/<split>.jsonl``.
    ``asterisk``: an already built ``speechtok data asterisk`` folder (else built in out/asterisk)."""
    from .asterisk import build_corpus
    from .prompts import build_prompt_voices
    from .synthetic import build_synthetic_voices

    out = Path(out)
    if asterisk is None:
        asterisk = out / "asterisk"
        build_corpus(asterisk, seed=seed, jobs=jobs, progress=progress)
    ast = read_manifest(Path(asterisk) / "all.jsonl")
    prompts = build_prompt_voices(out / "prompts", cache=cache, jobs=jobs, progress=progress)
    synth = build_synthetic_voices(out / "synthetic", per_voice=per_voice, seed=seed, jobs=jobs, cache=cache,
                                   progress=progress)
    splits = assign_voice_splits(ast, prompts + synth, seed=seed)
    for name, utts in splits.items():
        write_manifest(out / f"{name}.jsonl", utts, relative_to=out)  # paths outside OUT stay absolute
    return splits


def summarize_voices(splits: dict[str, list[Utterance]]) -> str:
    lines = []
    for name, utts in splits.items():
        voices = sorted({u.speaker or "" for u in utts})
        hours = sum(u.duration or 0 for u in utts) / 3600
        lines.append(f"{name:<15} {len(utts):>6} files {hours:6.2f} h  {len(voices):>3} voices")
    return "\n".join(lines)
