"""Transcribed manifest -> (phones, speaker, frame targets) for TTS training, cached on disk.

Frame targets are the codec's own parameters at its frame rate (``SourceFilterCodec.analyze`` then
``features``), plus log-F0 (interpolated through unvoiced frames) and voicing. They are
standardized with statistics of the training set (saved with the voice, so synthesis undoes them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..audio import load_audio, resample
from ..errors import SpeechtokError
from .frontend import TextError, phonemize, phonemize_words


@dataclass
class Item:
    id: str
    phones: list[str]
    speaker: str
    language: str
    frames: np.ndarray  # (T, D + 2): codec features, log-F0 (interpolated), voicing (0/1); raw units
    # target tokens only: frames holds the codes (T, K) and durations the phones' frames (N,)
    durations: np.ndarray | None = None
    # alignment pocketsphinx: (N, 2) first and last frame each phone may take (-1: unconstrained),
    # from the forced-aligned span of its word (``word_spans``); MAS keeps to them
    spans: np.ndarray | None = None


def read_manifest(path: str | Path, speakers: list[str] | None = None, languages: list[str] | None = None) -> list[dict]:
    """Rows of a JSONL manifest that carry text (and match the speaker/language filters)."""
    p = Path(path)
    if not p.is_file():
        raise SpeechtokError(f"{p}: manifest not found")
    rows = []
    for k, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            raise SpeechtokError(f"{p}:{k}: not JSON ({e.msg})") from None
        if not isinstance(r, dict) or "path" not in r:
            raise SpeechtokError(f"{p}:{k}: a manifest row needs at least 'path' and 'text'")
        if not str(r.get("text") or "").strip():
            continue
        r.setdefault("speaker", "speaker")
        r.setdefault("language", "en")
        if speakers and r["speaker"] not in speakers:
            continue
        if languages and str(r["language"]).split("-")[0] not in languages:
            continue
        ap = Path(r["path"])
        r["path"] = str(ap if ap.is_absolute() else p.parent / ap)
        r.setdefault("id", Path(r["path"]).stem)
        rows.append(r)
    return rows


def interpolate_lf0(f0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T,) Hz with 0 = unvoiced -> (log-F0 interpolated through unvoiced runs, voicing 0/1)."""
    v = f0 > 0
    if not v.any():
        return np.full(len(f0), np.log(120.0), np.float32), v.astype(np.float32)
    t = np.arange(len(f0))
    lf = np.interp(t, t[v], np.log(f0[v]))
    return lf.astype(np.float32), v.astype(np.float32)


def frame_targets(codec, wav: np.ndarray) -> np.ndarray:
    """Waveform at the codec's rate -> (T, D + 2) raw frame targets."""
    fr = codec.analyze(wav)
    feats = codec.features(fr).numpy()
    lf0, v = interpolate_lf0(fr.f0)
    return np.concatenate([feats, lf0[:, None], v[:, None]], 1).astype(np.float32)


#: frames a phone may stray outside its word's forced-aligned span (word boundaries are +-10 ms
#: pocketsphinx frames; codec frames are 20-40 ms)
SPAN_SLACK = 1


def word_spans(index: list[int], words: list, frame_rate: float, num_frames: int) -> np.ndarray:
    """(N, 2) allowed first/last frame per phone from its word's aligned segment (``words[i]`` has
    ``start``/``end`` in seconds); -1 for phones of no word (pauses, word boundaries)."""
    out = np.full((len(index), 2), -1, np.int32)
    for i, w in enumerate(index):
        if w >= 0:
            lo = int(np.floor(words[w].start * frame_rate)) - SPAN_SLACK
            hi = int(np.ceil(words[w].end * frame_rate)) + SPAN_SLACK
            out[i] = max(0, lo), min(num_frames - 1, max(hi, lo + 1))
    return out


def _cache_key(rows: list[dict], codec_id: str, alignment: str = "mas") -> str:
    from .frontend import FRONTEND_VERSION

    tag = "" if alignment == "mas" else f"|alignment {alignment} slack {SPAN_SLACK}"
    h = hashlib.sha256(f"{codec_id}|frontend {FRONTEND_VERSION}{tag}".encode())
    for r in rows:
        h.update(f"{r['id']}\t{r['path']}\t{r['text']}\t{r['speaker']}\t{r['language']}\n".encode())
    return h.hexdigest()[:16]


def _cached(f: Path | None, make) -> list[Item]:
    """``make()`` -> (items, skipped reasons), or the items cached in ``f``; warns about skipped
    rows, refuses an empty result, writes the cache atomically."""
    if f is not None and f.is_file():
        return [Item(**d) for d in torch.load(f, weights_only=False)]
    items, skipped = make()
    if skipped:
        import warnings

        warnings.warn(f"{len(skipped)} utterance(s) skipped, e.g. {skipped[0]}", stacklevel=3)
    if not items:
        raise SpeechtokError("no usable transcribed utterances in the training data")
    if f is not None:
        from ..fsutil import write_atomic

        f.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(f, lambda t: torch.save([it.__dict__ for it in items], t), suffix=".pt")
    return items


def build_items(rows: list[dict], codec, codec_id: str, cache: Path | None = None, progress: bool = True,
                alignment: str = "mas") -> list[Item]:
    """Phonemize and analyze every row (skipping, with a warning, rows whose text cannot be read);
    cached under ``cache`` by the rows' content and the codec. ``alignment`` pocketsphinx: the
    ``words`` front end, and each phone's frames bounded by its word's forced alignment."""
    f = cache / f"items-{_cache_key(rows, codec_id, alignment)}.pt" if cache is not None else None
    return _cached(f, lambda: _make_items(rows, codec, progress, alignment))


def _make_items(rows, codec, progress, alignment="mas"):
    items, skipped = [], []
    aligner = None
    if alignment == "pocketsphinx":
        from ..data.forced_align import Aligner, AlignmentError

        aligner = Aligner()
    for r in tqdm(rows, desc="tts data" if aligner is None else "tts data + alignment", unit="utt", disable=not progress):
        lang = r["language"].split("-")[0]
        try:
            if aligner is not None:
                phones, index, words = phonemize_words(r["text"], lang)
            else:
                phones = phonemize(r["text"], r["language"])
        except TextError as e:
            skipped.append(f"{r['id']}: {e}")
            continue
        wav, sr = load_audio(r["path"])
        if sr != codec.cfg.sample_rate:
            wav = resample(wav, sr, codec.cfg.sample_rate)
        frames = frame_targets(codec, wav)
        if len(frames) < len(phones):
            skipped.append(f"{r['id']}: {len(phones)} phones in {len(frames)} frames")
            continue
        spans = None
        if aligner is not None:
            try:
                _, segs = aligner.align(resample(wav, codec.cfg.sample_rate, 16000) if codec.cfg.sample_rate != 16000 else wav,
                                        " ".join(words))
            except AlignmentError as e:
                skipped.append(f"{r['id']}: {e}")
                continue
            segs = [g for g in segs if not g.phone.startswith(("<", "[", "+"))]  # a word Segment keeps the word in .phone
            if [g.phone for g in segs] != words:
                skipped.append(f"{r['id']}: aligned words {[g.phone for g in segs][:8]} differ from the text's {words[:8]}")
                continue
            spans = word_spans(index, segs, float(codec.cfg.frame_rate), len(frames))
        items.append(Item(r["id"], phones, r["speaker"], lang, frames, spans=spans))
    return items, skipped


def target_stats(items: list[Item]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per target dimension over all frames (voicing left as is: mean 0, std 1)."""
    x = np.concatenate([it.frames for it in items])
    mean, std = x.mean(0), x.std(0) + 1e-4
    mean[-1], std[-1] = 0.5, 0.5  # voicing 0/1 -> -1/+1
    return mean.astype(np.float32), std.astype(np.float32)


def build_token_items(rows: list[dict], tok, aligner, cache: Path | None = None, progress: bool = True) -> list[Item]:
    """Target tokens: each row's codes from ``tok`` and its phone durations from the MAS
    alignment of ``aligner`` (a trained parameter ``Voice``), rescaled to ``tok``'s frame rate."""
    key = _cache_key(rows, f"{tok.name}:{tok.version}|aligner {aligner.folder.resolve()}")
    f = cache / f"token-items-{key}.pt" if cache is not None else None
    return _cached(f, lambda: _make_token_items(rows, tok, aligner, progress))


def _make_token_items(rows, tok, aligner, progress):
    from .align import durations_from_path, log_likelihood, mas

    items, skipped = [], []
    for r in tqdm(rows, desc="tts token data", unit="utt", disable=not progress):
        try:
            phones = aligner.phones(r["text"], r["speaker"], r["language"])  # the aligner voice's own front end
            ids = aligner.phone_set.ids(phones, r["id"])
            spk = aligner.voices.index(r["speaker"])
        except (TextError, ValueError) as e:
            skipped.append(f"{r['id']}: {e}")
            continue
        wav, sr = load_audio(r["path"], aligner.sample_rate)
        x = (torch.from_numpy(frame_targets(aligner.codec, wav)) - aligner.mean) / aligner.std
        with torch.no_grad():
            _, mu, _ = aligner.model.encode(torch.tensor([ids]), torch.tensor([spk]))
        if len(x) < len(ids):
            skipped.append(f"{r['id']}: {len(ids)} phones in {len(x)} frames")
            continue
        d = durations_from_path(mas(log_likelihood(mu[0], x).numpy()), len(ids))
        codes = tok.encode(load_audio(r["path"], tok.sample_rate)[0], tok.sample_rate).codes
        T = codes.shape[1]
        ends = np.round(np.cumsum(d) * T / len(x)).astype(np.int64)
        dur = np.diff(np.concatenate([[0], ends]))
        items.append(Item(r["id"], phones, r["speaker"], r["language"].split("-")[0], codes.T.astype(np.int64), dur))
    return items, skipped


def collate_tokens(items: list[Item], phone_set, speaker_ids: dict):
    """Target tokens: phone ids (B, N), speakers, codes (B, T, K) padded with -100, durations (B, N)."""
    ids = [phone_set.ids(it.phones, it.id) for it in items]
    N = max(map(len, ids))
    T = max(len(it.frames) for it in items)
    K = items[0].frames.shape[1]
    phones = torch.zeros(len(items), N, dtype=torch.long)
    codes = torch.full((len(items), T, K), -100, dtype=torch.long)
    dur = torch.zeros(len(items), N, dtype=torch.long)
    for b, (p, it) in enumerate(zip(ids, items)):
        phones[b, : len(p)] = torch.tensor(p)
        codes[b, : len(it.frames)] = torch.from_numpy(it.frames)
        dur[b, : len(p)] = torch.from_numpy(it.durations)
    speakers = torch.tensor([speaker_ids[it.speaker] for it in items])
    return phones, speakers, codes, dur


def collate(items: list[Item], phone_set, speaker_ids: dict, mean: np.ndarray, std: np.ndarray):
    """A batch: padded phone ids (B, N), speakers (B,), standardized targets (B, T, D + 2), lengths."""
    ids = [phone_set.ids(it.phones, it.id) for it in items]
    N = max(map(len, ids))
    T = max(len(it.frames) for it in items)
    D = items[0].frames.shape[1]
    phones = torch.zeros(len(items), N, dtype=torch.long)
    target = torch.zeros(len(items), T, D)
    for b, (p, it) in enumerate(zip(ids, items)):
        phones[b, : len(p)] = torch.tensor(p)
        target[b, : len(it.frames)] = torch.from_numpy((it.frames - mean) / std)
    speakers = torch.tensor([speaker_ids[it.speaker] for it in items])
    n_phones = torch.tensor([len(p) for p in ids])
    n_frames = torch.tensor([len(it.frames) for it in items])
    spans = [getattr(it, "spans", None) for it in items]
    return phones, speakers, target, n_phones, n_frames, (spans if any(s is not None for s in spans) else None)
