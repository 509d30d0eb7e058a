"""A spoken lexical test in the spirit of ZeroSpeech's sWUGGY, built offline.

Pairs of a real English word and a non-word of the same length and shape: words from Debian
`wamerican` (4–9 letters, lower case), phonemes from espeak-ng (``-x`` mnemonics), and the non-word
made by substituting one consonant (two in words of 6+ phonemes) with another of the same class
(stop, fricative, nasal, approximant), stress marks and vowels untouched, never yielding the
phonemes of a listed word. Both members of a pair are spoken from their phoneme strings
(``[[...]]``) by the same espeak-ng voice, so the only difference is the substituted segments.
Several voices; the voices of the LM's synthetic training speech are "seen", one is held out.

Score: an LM prefers the word when its log-likelihood is higher, either summed over the
utterance's tokens or per token (BPE changes lengths); chance is 50%. Reported with a bootstrap
CI over items (resampling whole pairs), by voice, by how often the word occurs in the training text, by length, and as a
paired comparison between two tokenizers (sign test on the items where they disagree).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

WORDS_FILE = Path("/usr/share/dict/american-english")
CLASSES = {
    "stop": "pbtdkg",
    "fricative": "fvTDszSZ",
    "nasal": "mn",
    "approximant": "lrwj",
}
CLASS_OF = {c: name for name, chars in CLASSES.items() for c in chars}
SEEN_VOICES = ("en-us", "en-us+f3")  # also read the synthetic training speech (synthetic.ESPEAK_VOICES)
HELD_OUT_VOICE = "en-us+m3"  # never in training
FREQ_BUCKETS = ((0, 0, "0"), (1, 4, "1-4"), (5, 10**9, "5+"))


def candidate_words(path: Path = WORDS_FILE, min_len: int = 4, max_len: int = 9) -> list[str]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no word list (apt-get install wamerican)")
    words = path.read_text(encoding="utf-8", errors="replace").split()
    return sorted({w for w in words if w.isascii() and w.isalpha() and w.islower() and min_len <= len(w) <= max_len})


def word_counts(texts: Iterable[str]) -> Counter:
    c: Counter = Counter()
    for t in texts:
        c.update(re.findall(r"[a-z]+", (t or "").lower()))
    return c


def segments(phon: str) -> list[tuple[str, bool]]:
    """Split espeak mnemonics into (piece, substitutable consonant?)."""
    out, i = [], 0
    while i < len(phon):
        two = phon[i : i + 2]
        if two in ("tS", "dZ"):
            out.append((two, False))
            i += 2
            continue
        ch = phon[i]
        nxt = phon[i + 1] if i + 1 < len(phon) else ""
        out.append((ch, ch in CLASS_OF and nxt not in "-#"))
        i += 1
    # only singleton consonants (a vowel or the word edge on each side) are substituted: changing
    # one inside a cluster easily makes clusters English does not allow (``st`` -> ``sb``)
    marks = ("'", ",", ":", ";")
    for j, (piece, ok) in enumerate(out):
        if ok:
            prev = next((p for p, _ in reversed(out[:j]) if p not in marks), "")
            nxt = next((p for p, _ in out[j + 1 :] if p not in marks), "")
            if not (prev == "" or _is_vowelish(prev)) or not (nxt == "" or _is_vowelish(nxt)):
                out[j] = (piece, False)
    return out


def _is_vowelish(piece: str) -> bool:
    return piece not in CLASS_OF and piece not in ("tS", "dZ", "'", ",", "-", "#", ":", ";")


def make_nonword(phon: str, rng: np.random.Generator, real: set[str], tries: int = 50) -> str | None:
    """A non-word from ``phon`` by same-class consonant substitution; None if none found."""
    segs = segments(phon)
    slots = [i for i, (_, ok) in enumerate(segs) if ok]
    n_phones = _count_phones(segs)
    k = 2 if n_phones >= 6 else 1
    if len(slots) < k:
        return None
    for _ in range(tries):
        pieces = [p for p, _ in segs]
        for i in rng.choice(slots, size=k, replace=False):
            old = pieces[i]
            choices = [c for c in CLASSES[CLASS_OF[old]] if c != old]
            new = choices[int(rng.integers(len(choices)))]
            nxt = next((p for p in pieces[i + 1 :] if p not in ("'", ",")), "")
            prev = next((p for p in reversed(pieces[:i]) if p not in ("'", ",")), "")
            if new in "hwj" and not _is_vowelish(nxt):  # h/w/j only before a vowel
                break
            if new == prev or new == nxt:  # no doubled consonants
                break
            pieces[i] = new
        else:
            cand = "".join(pieces)
            if cand != phon and _strip(cand) not in real:
                return cand
    return None


def _count_phones(segs) -> int:
    return sum(1 for p, _ in segs if p not in ("'", ",", "#", "-", ":", ";"))


def _strip(phon: str) -> str:
    return phon.replace("'", "").replace(",", "")


def _bucket(count: int) -> str:
    return next(name for lo, hi, name in FREQ_BUCKETS if lo <= count <= hi)


def build_pairs(n_pairs: int, train_texts: Sequence[str], seed: int = 0, words: Sequence[str] | None = None) -> list[dict]:
    """``n_pairs`` (word, non-word) pairs, a third from each training-frequency bucket where possible."""
    from .synthetic import espeak_phonemes

    rng = np.random.default_rng(seed)
    words = list(words if words is not None else candidate_words())
    counts = word_counts(train_texts)
    by_bucket: dict[str, list[str]] = {name: [] for *_, name in FREQ_BUCKETS}
    for w in words:
        by_bucket[_bucket(counts[w])].append(w)
    # over-draw (some words yield no non-word), phonemize those, then take what is needed
    pool = []
    for name, ws in by_bucket.items():
        take = min(len(ws), int(n_pairs / len(by_bucket) * 2))
        pool += [ws[i] for i in rng.choice(len(ws), size=take, replace=False)]
    phons = espeak_phonemes(pool)
    # non-words must not sound like any listed word (or any word of the training text)
    lexicon = sorted(set(candidate_words(min_len=1, max_len=14) if words is None else words) | set(counts))
    real = {_strip(p) for p in espeak_phonemes(lexicon)}
    pairs, per_bucket = [], Counter()
    quota = {name: n_pairs // len(by_bucket) + (1 if i < n_pairs % len(by_bucket) else 0) for i, name in enumerate(by_bucket)}
    for w, p in zip(pool, phons):
        b = _bucket(counts[w])
        if per_bucket[b] >= quota[b] or not p or " " in p:
            continue
        nw = make_nonword(p, rng, real)
        if nw is None:
            continue
        per_bucket[b] += 1
        n_ph = _count_phones(segments(p))
        pairs.append({"pair": len(pairs), "word": w, "word_phonemes": p, "nonword_phonemes": nw,
                      "train_count": int(counts[w]), "freq_bucket": b, "letters": len(w), "phonemes": n_ph})
    return pairs


def synthesize_pairs(pairs: list[dict], out_dir: str | Path, voices: Sequence[str] = SEEN_VOICES + (HELD_OUT_VOICE,),
                     held_out: Sequence[str] = (HELD_OUT_VOICE,), progress: bool = True) -> Path:
    """Speak every pair in every voice (resumable); writes ``pairs.jsonl`` and ``manifest.jsonl``
    (ids ``<voice>/<pair>-w`` and ``<voice>/<pair>-n``). Returns the manifest path."""

    def say(p: dict, kind: str) -> tuple[str, str]:
        phon = p["word_phonemes"] if kind == "w" else p["nonword_phonemes"]
        return f"[[{phon}]]", p["word"] if kind == "w" else ""

    return speak_pair_test(pairs, out_dir, voices, held_out, say, {}, "lexical", progress)


def speak_pair_test(pairs: list[dict], out_dir: str | Path, voices: Sequence[str], held_out: Sequence[str], say,
                    meta: dict, split: str, progress: bool = True) -> Path:
    """The shared writer of the pair tests (lexical, syntactic): ``pairs.jsonl``, ``meta.json``
    (voices, held-out voices, ``meta``) and one espeak-ng wav per (voice, pair, member), kept if it
    exists (resume); ``say(pair, "w" | "n")`` gives (what espeak-ng reads, the manifest's text).
    Returns ``manifest.jsonl`` (ids ``<voice>/<pair>-w`` / ``-n``)."""
    from tqdm import tqdm

    from ..data.manifest import Utterance, write_manifest
    from ..fsutil import write_atomic
    from .synthetic import synthesize

    out = Path(out_dir)
    info = {**meta, "voices": list(voices), "held_out": list(held_out), "pairs": len(pairs)}
    text = "".join(json.dumps(p) + "\n" for p in pairs)
    write_atomic(out / "pairs.jsonl", lambda tmp: tmp.write_text(text))
    write_atomic(out / "meta.json", lambda tmp: tmp.write_text(json.dumps(info, indent=1) + "\n"))
    utts = []
    jobs = [(v, p, kind) for v in voices for p in pairs for kind in ("w", "n")]
    for voice, p, kind in tqdm(jobs, desc=f"synthesize {split} pairs", unit="wav", disable=not progress):
        vid = voice.replace("+", "_")
        uid = f"{vid}/{p['pair']:05d}-{kind}"
        path = out / "wav" / f"{uid}.wav"
        spoken, written = say(p, kind)
        if not path.exists():
            synthesize(spoken, voice, path, "espeak")
        utts.append(Utterance(id=uid, path=str(path.resolve()), speaker=vid, language="en", text=written, split=split))
    manifest = out / "manifest.jsonl"
    write_manifest(manifest, utts, relative_to=out)
    return manifest


def load_pairs(folder: str | Path) -> tuple[list[dict], dict]:
    p = Path(folder)
    if not (p / "pairs.jsonl").exists():
        raise FileNotFoundError(f"{p}: no lexical test here (build it with `speechtok lm lexical build`)")
    pairs = [json.loads(line) for line in (p / "pairs.jsonl").read_text().splitlines() if line.strip()]
    return pairs, json.loads((p / "meta.json").read_text())


def item_outcomes(pairs: list[dict], meta: dict, scores: dict[str, dict], audio: dict | None = None) -> list[dict]:
    """One item per (pair, voice) with both members scored: 1 / 0 / 0.5 (tie) for the summed
    and the per-token log-likelihood. A score row may carry ``duration`` (seconds: the item gets
    ``dur_w`` / ``dur_n``); ``audio`` (from ``pair_audio``) marks near-identical recordings."""
    items = []
    for voice in meta["voices"]:
        vid = voice.replace("+", "_")
        for p in pairs:
            w, n = scores.get(f"{vid}/{p['pair']:05d}-w"), scores.get(f"{vid}/{p['pair']:05d}-n")
            if w is None or n is None:
                continue
            sw, sn = w["bits"], n["bits"]
            nw, nn = w["bits"] / max(1, w["tokens"]), n["bits"] / max(1, n["tokens"])
            item = {"pair": p["pair"], "voice": voice, "held_out": voice in meta["held_out"],
                    "freq_bucket": p.get("freq_bucket"), "phonemes": p.get("phonemes"),
                    "sum": 1.0 if sw < sn else 0.5 if sw == sn else 0.0,
                    "norm": 1.0 if nw < nn else 0.5 if nw == nn else 0.0}
            if "duration" in w and "duration" in n:
                item["dur_w"], item["dur_n"] = round(float(w["duration"]), 5), round(float(n["duration"]), 5)
            if audio is not None and (vid, p["pair"]) in audio:
                item["near_identical"] = bool(audio[(vid, p["pair"])]["near_identical"])
            for key in ("phenomenon",):
                if key in p:
                    item[key] = p[key]
            items.append(item)
    return items


# ---- duration controls -------------------------------------------------------------------------------
#: pairs whose two recordings differ by at most this much are "length-matched"
MATCHED_SECONDS = 0.020
#: two recordings are near-identical when their log-mel spectrograms (same frame count) differ by
#: less than this mean absolute difference (natural-log units); identical samples give 0
NEAR_IDENTICAL = 0.05


def _log_mel(wav: np.ndarray) -> np.ndarray:
    from ..dsp import mel_filterbank, stft_magnitude

    mag = stft_magnitude(np.asarray(wav, dtype=np.float64), 512, 160)  # (bins, frames)
    return np.log(mag.T @ mel_filterbank(16000, 512, 40).T + 1e-5)  # (frames, mels)


def recording_distance(a: np.ndarray, b: np.ndarray) -> float:
    """0 for identical samples; else the mean absolute log-mel difference, the shorter recording's
    frames compared with the longer one's resampled to the same count (inf if lengths differ > 10%)."""
    if a.shape == b.shape and np.array_equal(a, b):
        return 0.0
    if abs(a.size - b.size) > 0.1 * max(a.size, b.size):
        return float("inf")
    ma, mb = _log_mel(a), _log_mel(b)
    if len(ma) != len(mb):
        idx = np.round(np.linspace(0, len(mb) - 1, len(ma))).astype(int)
        mb = mb[idx]
    return float(np.mean(np.abs(ma - mb)))


def pair_audio(folder: str | Path, cache: Path | None = None, progress: bool = False) -> dict:
    """(voice id, pair) -> {"distance", "near_identical"} for every pair of a built test, from its
    wavs; cached as JSON in ``cache`` (keyed by the test's pairs file)."""
    import hashlib

    from tqdm import tqdm

    from ..audio import load_audio

    folder = Path(folder)
    pairs, meta = load_pairs(folder)
    digest = hashlib.sha1((folder / "pairs.jsonl").read_bytes()).hexdigest()[:12]
    if cache is not None and cache.exists():
        saved = json.loads(cache.read_text())
        if saved.get("digest") == digest:
            return {(r["voice"], r["pair"]): r for r in saved["rows"]}
    rows = []
    jobs = [(voice.replace("+", "_"), p["pair"]) for voice in meta["voices"] for p in pairs]
    for vid, pair in tqdm(jobs, desc="compare recordings", unit="pair", disable=not progress):
        paths = [folder / "wav" / vid / f"{pair:05d}-{k}.wav" for k in ("w", "n")]
        if not all(p.exists() for p in paths):
            continue
        a, b = (load_audio(p, 16000)[0] for p in paths)
        d = recording_distance(a, b)
        rows.append({"voice": vid, "pair": pair, "distance": round(d, 5) if np.isfinite(d) else None,
                     "near_identical": bool(d < NEAR_IDENTICAL)})
    if cache is not None:
        from ..fsutil import write_atomic

        text = json.dumps({"digest": digest, "rows": rows}) + "\n"
        write_atomic(cache, lambda tmp: tmp.write_text(text))
    return {(r["voice"], r["pair"]): r for r in rows}


def shorter_outcomes(items: list[dict]) -> list[dict]:
    """The "pick the shorter recording" rule scored like an LM: 1 when the word is shorter."""
    out = []
    for i in items:
        if "dur_w" not in i:
            continue
        v = 1.0 if i["dur_w"] < i["dur_n"] else 0.5 if i["dur_w"] == i["dur_n"] else 0.0
        out.append({**i, "sum": v, "norm": v})
    return out


def controlled(items: list[dict]) -> list[dict]:
    """Items kept by the duration control: length-matched (|word - non-word| <= MATCHED_SECONDS)
    and not near-identical."""
    return [i for i in items if "dur_w" in i and abs(i["dur_w"] - i["dur_n"]) <= MATCHED_SECONDS + 1e-9
            and not i.get("near_identical", False)]


def length_regressed(items: list[dict], score: str) -> float | None:
    """Accuracy (%) at equal length: a logistic regression of the item's outcome on the length
    difference (word minus non-word, in 100 ms; near-identical pairs left out, ties counted half)
    read at a difference of 0."""
    rows = [(i["dur_w"] - i["dur_n"], i[score]) for i in items if "dur_w" in i and not i.get("near_identical", False)]
    if len(rows) < 10:
        return None
    x = np.array([r[0] for r in rows]) * 10.0
    y = np.array([r[1] for r in rows])
    X = np.stack([np.ones_like(x), x], 1)
    w = np.zeros(2)
    for _ in range(50):  # Newton (IRLS) on the log-likelihood with fractional targets, a small ridge
        p = 1 / (1 + np.exp(-(X @ w)))
        g = X.T @ (y - p) - 1e-3 * w
        h = (X * (p * (1 - p))[:, None]).T @ X + 1e-3 * np.eye(2)
        step = np.linalg.solve(h, g)
        w += step
        if np.abs(step).max() < 1e-9:
            break
    return float(100 / (1 + np.exp(-w[0])))


def cluster_bootstrap_ci(values, clusters, resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap CI of the mean of ``values``, resampling whole clusters (the pairs:
    the voices of one pair are not independent items)."""
    v = np.asarray(values, dtype=np.float64)
    _, idx = np.unique(np.asarray(clusters), return_inverse=True)
    sums, counts = np.bincount(idx, weights=v), np.bincount(idx).astype(np.float64)
    if len(sums) < 2:
        m = float(v.mean())
        return m, m
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(sums), size=(resamples, len(sums)))
    means = sums[pick].sum(1) / counts[pick].sum(1)
    a = (1 - confidence) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def _acc(items: list[dict], score: str) -> dict:
    if not items:
        return {"acc": None, "ci": None, "n": 0}
    v = np.array([i[score] for i in items])
    lo, hi = cluster_bootstrap_ci(v, [i["pair"] for i in items])
    return {"acc": float(v.mean() * 100), "ci": [lo * 100, hi * 100], "n": int(v.size)}


def _length_bucket(n: int) -> str:
    return "<=4" if n <= 4 else "5-6" if n <= 6 else "7+"


def lexical_summary(items: list[dict]) -> dict:
    """Accuracy (%) with 95% bootstrap CIs, overall and broken down; chance is 50. With durations
    on the items: the same on the duration-controlled items (``matched``), the length-regressed
    accuracy, and the "pick the shorter one" rule on both sets."""
    out = {"chance": 50.0}
    has_dur = any("dur_w" in i for i in items)
    kept = controlled(items) if has_dur else []
    for score in ("sum", "norm"):
        s = {"all": _acc(items, score),
             "seen_voices": _acc([i for i in items if not i["held_out"]], score),
             "held_out_voice": _acc([i for i in items if i["held_out"]], score)}
        if any(i.get("freq_bucket") is not None for i in items):
            s["by_train_count"] = {b: _acc([i for i in items if i["freq_bucket"] == b], score) for *_, b in FREQ_BUCKETS}
        if any(i.get("phonemes") is not None for i in items):
            s["by_phonemes"] = {b: _acc([i for i in items if _length_bucket(i["phonemes"]) == b], score) for b in ("<=4", "5-6", "7+")}
        if any("phenomenon" in i for i in items):
            s["by_phenomenon"] = {ph: _acc([i for i in items if i.get("phenomenon") == ph], score)
                                  for ph in sorted({i["phenomenon"] for i in items if "phenomenon" in i})}
        if has_dur:
            s["matched"] = _acc(kept, score)
            s["length_regressed"] = length_regressed(items, score)
        out[score] = s
    if has_dur:
        short = shorter_outcomes(items)
        out["shorter_one"] = {"all": _acc(short, "sum"), "matched": _acc(controlled(short), "sum")}
        out["controls"] = {"matched_seconds": MATCHED_SECONDS, "near_identical_below": NEAR_IDENTICAL,
                           "items": len(items), "matched_items": len(kept),
                           "near_identical_items": sum(1 for i in items if i.get("near_identical"))}
    return out


def paired_test(items_a: list[dict], items_b: list[dict], score: str = "norm") -> dict:
    """A vs B on the same items: accuracy difference (points) with a bootstrap CI (resampling
    pairs) and the exact two-sided sign test (McNemar) on the items where exactly one is right."""
    from scipy.stats import binomtest

    b = {(i["pair"], i["voice"]): i[score] for i in items_b}
    common = [(i[score], b[(i["pair"], i["voice"])], i["pair"]) for i in items_a if (i["pair"], i["voice"]) in b]
    if not common:
        raise ValueError("no items in common")
    x = np.array(common, dtype=np.float64)
    d = x[:, 0] - x[:, 1]
    lo, hi = cluster_bootstrap_ci(d, x[:, 2])
    a_only, b_only = int(((x[:, 0] == 1) & (x[:, 1] == 0)).sum()), int(((x[:, 0] == 0) & (x[:, 1] == 1)).sum())
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"items": len(common), "diff": float(d.mean() * 100), "ci": [lo * 100, hi * 100],
            "a_only": a_only, "b_only": b_only, "p_sign_test": float(p)}
