"""More real voices from Debian: the Russian core prompts and the ``asterisk-prompt-*`` voices.

Each is one professional voice reading the Asterisk telephone prompts, recorded and shipped in
its own chain: the Russian core prompts as G.722 (wideband, 16 kHz), the Colombian Spanish and
the French (Armelle) prompts as GSM 06.10 (8 kHz, a mobile-phone codec), the Italian (Menardi)
prompts as 8 kHz 16-bit wav. They are decoded to 16 kHz wav *without* band extension, so the 8 kHz
voices keep no energy above 4 kHz: telephone reality, as users' recordings often are.

Packages are read from ``/`` when installed, else downloaded and unpacked into a cache
(``debian.package_root``), because some conflict with the ``asterisk-core-sounds-*`` packages.
Files that are tones or silence are left out by name, and (for the voices without a transcript
of their own) prompts that the core transcripts of the same language do not list as speech.
"""

from __future__ import annotations

import gzip
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .asterisk import CorpusError, _ffmpeg, decode_to_wav, parse_transcripts, read_transcripts, transcript_path
from .debian import package_root
from .manifest import Utterance, write_manifest


@dataclass(frozen=True)
class PromptVoice:
    id: str  # the speaker id in manifests
    language: str
    package: str  # the package with the audio
    folder: str  # the audio folder inside the package
    suffix: str  # audio file suffix
    input_format: str | None  # ffmpeg -f for headerless audio
    source_rate: int  # Hz of the recordings as shipped
    chain: str  # recording / coding chain, in words
    licence: str
    credit: str
    transcript_package: str | None = None  # a transcript of this voice's own prompts


VOICES = {
    "ru_ivrvoice": PromptVoice(
        "ru_ivrvoice", "ru", "asterisk-core-sounds-ru-g722", "usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU", ".g722",
        "g722", 16000, "studio, G.722 wideband", "CC-BY-SA-3.0",
        "Russian core prompts (IvrvoiceRU, female), asterisk-core-sounds-ru 1.6.1",
        transcript_package="asterisk-core-sounds-ru"),
    "es_co": PromptVoice(
        "es_co", "es", "asterisk-prompt-es-co", "usr/share/asterisk/sounds/es", ".gsm", "gsm", 8000,
        "GSM 06.10, 8 kHz narrowband", "GPL-2",
        "Colombian Spanish prompts, voice July E. Jiménez, (C) 2006 Avatar Ltda."),
    "fr_armelle": PromptVoice(
        "fr_armelle", "fr", "asterisk-prompt-fr-armelle", "usr/share/asterisk/sounds/fr", ".gsm", "gsm", 8000,
        "GSM 06.10, 8 kHz narrowband", "BSD-style (redistribution with notice)",
        "French prompts, voice Armelle Desjardins, (C) 2006 Michel Gutierrez"),
    "it_menardi": PromptVoice(
        "it_menardi", "it", "asterisk-prompt-it-menardi-wav", "usr/share/asterisk/sounds/it_IT_f_Menardi", ".wav",
        None, 8000, "16-bit PCM, 8 kHz narrowband", "CC-BY-SA-3.0",
        "Italian prompts, voice Paola Dal Zot, (C) 2006-2011 Marco Menardi and Paola Dal Zot"),
}

# names of files that are never speech, whatever the voice
_NOT_SPEECH = ("beep", "silence", "tone", "ring", "music", "dial", "busy", "congestion")


def _is_speech_name(name: str) -> bool:
    low = name.lower()
    return not any(part in low for part in _NOT_SPEECH)


def own_transcripts(voice: PromptVoice, cache=None) -> dict[str, str]:
    if voice.transcript_package is None:
        return {}
    root = package_root(voice.transcript_package, cache)
    path = root / "usr/share/doc" / voice.transcript_package / f"core-sounds-{voice.language}.txt.gz"
    if not path.is_file():
        raise CorpusError(f"{path}: transcript of {voice.id} missing from {voice.transcript_package}")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return parse_transcripts(f.read())


def speech_names(voice: PromptVoice) -> set[str] | None:
    """Prompt names that the installed core transcript of the same language lists as speech
    (tones and silence are not listed), lower-cased; None when that transcript is absent."""
    if not transcript_path(voice.language).is_file():
        return None
    return {k.lower() for k in read_transcripts(voice.language)}


def find_sources(voice: PromptVoice, cache=None) -> list[tuple[str, Path, str | None]]:
    """``[(name, audio path, text or None)]`` of one voice, sorted by name."""
    root = package_root(voice.package, cache)
    folder = root / voice.folder
    if not folder.is_dir():
        raise CorpusError(f"{folder}: no audio folder in package {voice.package}")
    texts = own_transcripts(voice, cache)
    keep = None if texts else speech_names(voice)
    out = []
    for f in sorted(folder.rglob(f"*{voice.suffix}")):
        name = f.relative_to(folder).with_suffix("").as_posix()
        if not _is_speech_name(name):
            continue
        if texts:
            if name not in texts:
                continue
        elif keep is not None and name.lower() not in keep:
            continue
        out.append((name, f, texts.get(name)))
    return out


def build_prompt_voices(out: str | os.PathLike, voices=tuple(VOICES), cache=None, jobs: int = 2,
                        min_seconds: float = 0.4, progress: bool = True) -> list[Utterance]:
    """Decode the voices into ``out/wav/<voice>/<name>.wav`` (16 kHz) and write ``out/all.jsonl``.
    Resumable (decoded files are kept). Clips shorter than ``min_seconds`` are left out."""
    from tqdm import tqdm

    unknown = [v for v in voices if v not in VOICES]
    if unknown:
        raise CorpusError(f"unknown voice(s) {unknown}; available: {sorted(VOICES)}")
    ffmpeg = _ffmpeg()
    out = Path(out)
    jobs_list = []
    for vid in voices:
        v = VOICES[vid]
        for name, src, text in find_sources(v, cache):
            uid = f"{vid}/{name}"
            jobs_list.append((Utterance(uid, str(out / "wav" / f"{uid}.wav"), None, vid, v.language, text), src, v))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        durations = list(tqdm(pool.map(lambda j: decode_to_wav(j[1], Path(j[0].path), j[2].input_format, ffmpeg),
                                       jobs_list), total=len(jobs_list), desc="decoding prompts", unit="file",
                              disable=not progress))
    utts = []
    for (u, _, _), d in zip(jobs_list, durations):
        if d >= min_seconds:
            u.duration = round(d, 4)
            utts.append(u)
    write_manifest(out / "all.jsonl", utts, relative_to=out)
    return utts
