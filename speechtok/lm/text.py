"""Text prefixes for token LMs: the autoregressive text-to-speech of `speechtok lm say`.

With ``data.text`` (a JSONL manifest whose rows give ``id``, ``text`` and ``language``), every
training utterance of the token folder becomes ``BOS phones SEP speech END EOS`` (``layout.py``):
the LM reads the phones of the utterance's text, then learns to speak them frame by frame and to
stop. The phones come from the same front end as `speechtok tts` (``tts/frontend.py``: number and
abbreviation normalization, espeak-ng phonemes with stress and pauses), so the two TTS designs
read identical input and can be compared on the same sentences.

The phone set learned from the training texts is saved in the run's ``config.yaml``
(``vocab.phones``, with the front end's version), so a run folder speaks without its data. When
the texts come from several speakers (the manifest's ``speaker``), a symbol ``<speaker>`` follows
BOS: one LM learns from every voice and speaks with the one it is given (``vocab.text_speakers``).
"""

from __future__ import annotations

import json
from pathlib import Path

from tqdm import tqdm

from ..tts.frontend import FRONTEND_VERSION, PhoneSet, TextError, phonemize


def read_texts(manifest: str | Path) -> dict[str, tuple[str, str, str]]:
    """``id -> (text, language, speaker)`` of a JSONL manifest; clear errors naming the file and line."""
    p = Path(manifest)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such manifest (data.text must be a JSONL file with id, text and language)")
    out = {}
    with open(p, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{p}:{n}: not JSON ({e.msg})") from None
            if not isinstance(row, dict) or "id" not in row:
                raise ValueError(f"{p}:{n}: a row needs an id")
            if row.get("text"):
                out[str(row["id"])] = (str(row["text"]), str(row.get("language") or "en"), str(row.get("speaker") or ""))
    if not out:
        raise ValueError(f"{p}: no row has a text")
    return out


def speaker_symbol(speaker: str) -> str:
    return f"<{speaker}>"


def with_speaker(phones: list[str], speaker: str | None) -> list[str]:
    """``^ <speaker> phones… $``: several voices in one LM are told apart by a symbol after BOS."""
    return phones if speaker is None else phones[:1] + [speaker_symbol(speaker)] + phones[1:]


def phonemize_texts(texts: dict[str, tuple[str, str, str]], speakers: list[str] | None = None,
                    progress: bool = True) -> tuple[dict[str, list[str]], list[str]]:
    """Phones of every text (``id -> symbols``, with the speaker symbol when ``speakers`` is given)
    and the ids whose text could not be read."""
    phones, bad = {}, []
    for uid, (text, lang, spk) in tqdm(sorted(texts.items()), desc="phonemes", disable=not progress, dynamic_ncols=True):
        try:
            phones[uid] = with_speaker(phonemize(text, lang), spk if speakers else None)
        except TextError:
            bad.append(uid)
    return phones, bad


def learn_phones(manifest: str | Path, ids: set[str], progress: bool = True) -> tuple[dict, dict[str, list[int]]]:
    """From the manifest's texts of the utterances ``ids``: the ``vocab`` entries of the run
    (``phones``, ``text_languages``, ``text_speakers`` (most utterances first; only when there
    are several), ``frontend``) and ``id -> phone ids``."""
    from collections import Counter

    texts = {k: v for k, v in read_texts(manifest).items() if k in ids}
    if not texts:
        raise ValueError(f"{manifest}: none of its ids are in the token folder (data.text must describe the same utterances)")
    counts = Counter(spk for _, _, spk in texts.values())
    speakers = [s for s, _ in counts.most_common()] if len(counts) > 1 else []
    phones, _ = phonemize_texts(texts, speakers, progress)
    ps = PhoneSet.from_sequences(phones.values())
    info = {"phones": ps.symbols, "text_languages": sorted({lang for _, lang, _ in texts.values()}),
            "text_speakers": speakers, "frontend": FRONTEND_VERSION}
    return info, {k: ps.ids(v, k) for k, v in phones.items()}


def text_ids(vocab: dict, manifest: str | Path, progress: bool = True) -> dict[str, list[int]]:
    """``id -> phone ids`` in a run's saved phone set (a resumed run, or validation texts); texts
    with phones (or a speaker) the set lacks are left out."""
    ps = PhoneSet(vocab["phones"][1:])
    phones, _ = phonemize_texts(read_texts(manifest), vocab.get("text_speakers"), progress)
    out = {}
    for k, v in phones.items():
        try:
            out[k] = ps.ids(v, k)
        except TextError:
            pass
    return out


class TextPrefix:
    """Text -> the phone ids an LM run was trained on (``vocab.phones``)."""

    def __init__(self, vocab: dict):
        if not vocab.get("phones"):
            raise ValueError("this LM was trained without text (data.text), so it cannot speak text")
        if vocab.get("frontend", FRONTEND_VERSION) != FRONTEND_VERSION:
            raise ValueError(f"this LM was trained with text front end version {vocab['frontend']}, "
                             f"this speechtok has version {FRONTEND_VERSION}: retrain it")
        self.phone_set = PhoneSet(vocab["phones"][1:])
        self.languages = list(vocab.get("text_languages") or ["en"])
        self.speakers = list(vocab.get("text_speakers") or [])

    def ids(self, text: str, language: str | None = None, speaker: str | None = None) -> list[int]:
        lang = language or self.languages[0]
        if lang not in self.languages:
            raise TextError(f"language {lang!r}: this LM was trained on {', '.join(self.languages)}")
        if self.speakers:
            speaker = speaker or self.speakers[0]
            if speaker not in self.speakers:
                raise TextError(f"unknown voice {speaker!r}: this LM speaks {', '.join(self.speakers)}")
        elif speaker is not None:
            speaker = None  # one voice: the name is the LM's own
        return self.phone_set.ids(with_speaker(phonemize(text, lang), speaker))
