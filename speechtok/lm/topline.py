"""The LM bench's topline: the same LM on the phone sequence of the same speech.

A tokenizer's LM score means little without a ceiling at the same budget: the phones of what was
said are the content any speech tokenizer is trying to carry. The topline "tokenizer" reads no
audio features; it writes token folders (the format of `speechtok tokenize`) whose single codebook
holds phone ids, from

- the utterance's ``text`` through espeak-ng's grapheme-to-phoneme rules (``en-us``: ``-x
  --sep=_``), or, for the lexical and syntactic tests' items, the very phoneme string that was
  spoken (``[[...]]`` input, so a non-word gets exactly its phones);
- stress marks and espeak's allophone digits dropped (``'i:`` -> ``i:``, ``@2`` -> ``@``); no word
  boundaries and no pauses (a speech tokenizer does not see them either).

Two forms (the spec's name says which):

- ``phones``: deduplicated, one id per phone (the sequence a text LM would see; its "frame rate"
  in the folder's index is the mean phone rate of that folder);
- ``phones@50hz`` (any ``@<rate>hz``): one id per frame. The phones are spread evenly over the
  utterance's speaking span (20 ms frames within 40 dB of the loudest, first to last), the frames
  before and after hold a silence id. Even spreading is an approximation of real phone durations
  (no forced alignment: the lexical test's non-words have no spelling an aligner could use); it
  keeps each recording's real length, so length effects stay what they are for the tokenizers.

A third form measures what a content tokenizer loses to recognition errors: ``phones:per<P>``
(e.g. ``phones:per0.2``; ``phones@50hz:per0.2`` too) is the same topline with every sequence, of
training speech and of test items alike, corrupted as by a phone recognizer of phone error rate
``P`` whose errors are independent: each phone is, with probability ``P``, replaced by another
phone of the inventory (60 % of the errors), deleted (20 %) or followed by an inserted phone
(20 %), drawn from a generator seeded by the utterance id (so each voice's recording of an item
gets its own errors, and a rerun the same ones). Real recognizers confuse similar phones
consistently, which an LM can partly learn; uniform independent errors are the harder case, so
these rows bound a teacher's need from above (benchmarks/phone_units/per_curve.md).

Phone ids: 0 = silence, 1 = unknown (a phone absent from the training folder's inventory),
then the inventory in sorted order, fixed by the training folder (``index.json``: ``phones``).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np

TOPLINE_VERSION = "1"
SILENCE, UNKNOWN = "<sil>", "<unk>"
_SPEC = re.compile(r"^phones(?:@(\d+(?:\.\d+)?)hz)?(?::per(\d*\.?\d+))?$")
ERROR_MIX = (0.6, 0.2, 0.2)  # substitution, deletion, insertion shares of phones:per<P>'s errors
_STRIP = re.compile(r"[',#0-9]")
G2P_VOICE = "en-us"
SPAN_DB = 40.0  # the speaking span: frames within this many dB of the loudest


def parse_topline(name: str) -> float | None:
    """``phones`` -> 0.0 (deduplicated), ``phones@50hz`` -> 50.0 (either with ``:per<P>``), anything
    else -> None."""
    m = _SPEC.match(name)
    if not m:
        return None
    rate = float(m.group(1)) if m.group(1) else 0.0
    if m.group(1) and not 0 < rate <= 1000:
        raise ValueError(f"{name}: the phone topline's rate must be in (0, 1000] Hz")
    if m.group(2) is not None and not 0 <= float(m.group(2)) < 1:
        raise ValueError(f"{name}: the simulated phone error rate must be in [0, 1)")
    return rate


def topline_error_rate(name: str) -> float:
    """The simulated phone error rate of a topline name (``phones:per0.2`` -> 0.2; plain: 0)."""
    m = _SPEC.match(name)
    return float(m.group(2)) if m and m.group(2) is not None else 0.0


def corrupt(phones: Sequence[str], per: float, pool: Sequence[str], key: str) -> list[str]:
    """``phones`` as a recognizer with phone error rate ``per`` and independent errors might give
    them (module docstring); ``pool``: the phones a substitution or insertion draws from;
    ``key`` seeds the generator (the utterance id)."""
    if per <= 0 or not pool:
        return list(phones)
    import zlib

    rng = np.random.default_rng([zlib.crc32(key.encode()), int(round(per * 1e6))])
    out: list[str] = []
    for p in phones:
        if rng.random() >= per:
            out.append(p)
            continue
        kind = rng.choice(3, p=ERROR_MIX)
        if kind == 0:  # substitution: another phone
            others = [q for q in pool if q != p]
            out.append(others[rng.integers(len(others))] if others else p)
        elif kind == 2:  # insertion after the phone
            out += [p, pool[rng.integers(len(pool))]]
    return out


def split_phones(mnemonics: str) -> list[str]:
    """espeak-ng's separated mnemonics (``-x --sep=_``, any number of words and lines) -> phones,
    stress marks and allophone digits dropped."""
    out = []
    for piece in re.split(r"[_\s]+", mnemonics):
        p = _STRIP.sub("", piece)
        if p and p not in ("-", ":"):
            out.append(p)
    return out


def g2p(texts: Sequence[str], voice: str = G2P_VOICE) -> list[list[str]]:
    """The phones of each text (plain text, or ``[[mnemonics]]`` spoken as written)."""
    from .synthetic import _need

    exe = _need("espeak-ng", "espeak-ng")
    out = []
    for t in texts:
        if not (t or "").strip():
            out.append([])
            continue
        res = subprocess.run([exe, "-q", "-x", "--sep=_", "-v", voice], input=t + "\n", capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"espeak-ng failed on {t!r}: {res.stderr.strip()}")
        out.append(split_phones(res.stdout))
    return out


def speaking_span(wav: np.ndarray, frames: int, sample_rate: int) -> tuple[int, int]:
    """First and one-past-last frame (of ``frames`` equal frames) within SPAN_DB of the loudest."""
    if frames <= 0 or wav.size == 0:
        return 0, max(frames, 0)
    hop = wav.size / frames
    energy = np.array([float(np.mean(wav[int(i * hop) : max(int(i * hop) + 1, int((i + 1) * hop))] ** 2)) for i in range(frames)])
    db = 10 * np.log10(energy + 1e-12)
    active = np.flatnonzero(db >= db.max() - SPAN_DB)
    return int(active[0]), int(active[-1]) + 1


def frame_phones(phones: Sequence[int], frames: int, span: tuple[int, int], silence: int = 0) -> np.ndarray:
    """``frames`` ids: silence outside ``span``, the phones spread evenly inside it (each at least
    one frame where the span allows; a span shorter than the phones keeps their order, some dropped)."""
    out = np.full(frames, silence, dtype=np.int64)
    lo, hi = span
    n = len(phones)
    if n == 0 or hi <= lo:
        return out
    edges = np.floor(np.linspace(0, hi - lo, n + 1) + 1e-9).astype(np.int64)
    for i, p in enumerate(phones):
        out[lo + edges[i] : lo + edges[i + 1]] = p
    return out


def item_phonemes(folder: Path) -> dict[str, str]:
    """Utterance id -> the mnemonics spoken, for a lexical or syntactic test folder (``pairs.jsonl``)."""
    from .lexical import load_pairs

    pairs, meta = load_pairs(folder)
    out = {}
    for voice in meta["voices"]:
        vid = voice.replace("+", "_")
        for p in pairs:
            out[f"{vid}/{p['pair']:05d}-w"] = p.get("word_phonemes") or p.get("good_phonemes")
            out[f"{vid}/{p['pair']:05d}-n"] = p.get("nonword_phonemes") or p.get("bad_phonemes")
    return out


def write_phone_folder(manifest: str | Path, out: Path, name: str, *, inventory: list[str] | None = None,
                       phonemes: dict[str, str] | None = None, progress: bool = True) -> Path:
    """Token folder of the topline ``name`` for ``manifest``; ``inventory`` None = the training
    folder (its phones become the inventory); ``phonemes``: id -> mnemonics spoken (test items).
    Written once (index.json last); an existing finished folder is kept."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..corpus.shards import check_shard, commit_shard, write_index_and_card
    from ..data.manifest import list_inputs
    from ..tokens import Tokens

    rate = parse_topline(name)
    if rate is None:
        raise ValueError(f"{name}: not a phone topline (phones or phones@<rate>hz, optionally :per<P>)")
    if (out / "index.json").exists():
        return out
    utts = list_inputs(manifest)
    texts = []
    for u in utts:
        if phonemes is not None and u.id in phonemes and phonemes[u.id]:
            texts.append(f"[[{phonemes[u.id]}]]")
        else:
            texts.append(u.text or "")
    missing = [u.id for u, t in zip(utts, texts) if not t.strip()]
    if missing:
        raise ValueError(f"{manifest}: {len(missing)} utterances have no text for the phone topline (first: {missing[0]})")
    seqs = [g2p([t])[0] for t in tqdm(texts, desc=f"{name}: g2p", unit="utt", disable=not progress)]
    if inventory is None:
        inventory = [SILENCE, UNKNOWN] + sorted({p for s in seqs for p in s})
    per = topline_error_rate(name)
    if per:
        seqs = [corrupt(seq, per, inventory[2:], u.id) for u, seq in zip(utts, seqs)]
    ids = {p: i for i, p in enumerate(inventory)}
    encoded = []
    seconds = 0.0
    for u, seq in zip(utts, seqs):
        wav, sr = load_audio(u.path, 16000)
        num = [ids.get(p, 1) for p in seq]
        if rate:
            frames = int(round(len(wav) / sr * rate))
            codes = frame_phones(num, frames, speaking_span(wav, frames, sr))
        else:
            codes = np.asarray(num, dtype=np.int64)
        encoded.append((u, codes, len(wav), sr))
        seconds += len(wav) / sr
    folder_rate = rate or max(1e-3, sum(c.size for _, c, _, _ in encoded) / max(seconds, 1e-9))
    toks = [(u, Tokens(codes=c[None, :], tokenizer=name, tokenizer_version=TOPLINE_VERSION, frame_rate=folder_rate,
                       codebook_sizes=(len(inventory),), num_samples=n, sample_rate=sr)) for u, c, n, sr in encoded]
    out.mkdir(parents=True, exist_ok=True)
    commit_shard(out, 0, 1, toks, [])
    stats = [check_shard(out, 0, 1, [u.id for u, _ in toks])]
    plan = {"tokenizer": name, "tokenizer_version": TOPLINE_VERSION, "model_id": None, "frame_rate": folder_rate,
            "codebook_sizes": [len(inventory)], "inputs": str(manifest), "num_inputs": len(utts)}
    write_index_and_card(out, plan, stats, f"phone topline {name} of {manifest}", extra={"phones": inventory})
    return out


def inventory_of(folder: Path) -> list[str]:
    return json.loads((Path(folder) / "index.json").read_text())["phones"]
