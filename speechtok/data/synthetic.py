"""Voices built from real recordings, for breadth: festival (diphone, unit selection, HTS), flite
and espeak-ng, reading the Asterisk prompt texts.

Diphone and unit-selection voices are cut from one real speaker's recordings (festival's kal and
ked: American men; the Italian, Czech, Finnish and Russian voices; czech_krb is a child), HTS
voices are statistical models of one speaker, espeak-ng is formant synthesis with speaker
variants. None sounds like a person talking freely, so these voices widen the range of vocal
tracts, pitch and languages the codebooks see; they are never the test of generalization (real
voices are, see ``speech.py``).

Texts: the Asterisk core transcripts (en, es, fr, it; ru from ``asterisk-core-sounds-ru``), a
seeded sample of the prompts with at least three words. Voices without a text of their own
language read the Italian or Spanish prompts through their own letter-to-sound rules.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingDependencyError
from .asterisk import CorpusError, decode_to_wav, read_transcripts
from .manifest import Utterance, write_manifest


@dataclass(frozen=True)
class SynthVoice:
    id: str
    engine: str  # festival | flite | espeak
    voice: str  # the engine's voice name
    language: str  # of the voice
    text: str  # language of the texts it reads
    encoding: str = "utf-8"  # festival's voices read their own 8-bit encodings
    package: str = ""  # Debian package
    licence: str = ""


_F = "festival"
VOICES = {v.id: v for v in [
    SynthVoice("festival_kal", _F, "kal_diphone", "en", "en", "latin-1", "festvox-kallpc16k", "festvox (BSD-like)"),
    SynthVoice("festival_ked", _F, "ked_diphone", "en", "en", "latin-1", "festvox-kdlpc16k", "festvox (BSD-like)"),
    SynthVoice("festival_slt_hts", _F, "cmu_us_slt_arctic_hts", "en", "en", "latin-1", "festvox-us-slt-hts",
               "CMU ARCTIC (BSD-like)"),
    SynthVoice("festival_it_pc", _F, "pc_diphone", "it", "it", "latin-1", "festvox-itapc16k", "festvox-it (BSD-like)"),
    SynthVoice("festival_it_lp", _F, "lp_diphone", "it", "it", "latin-1", "festvox-italp16k", "festvox-it (BSD-like)"),
    SynthVoice("festival_cs_dita", _F, "czech_dita", "cs", "it", "iso-8859-2", "festvox-czech-dita", "GPL-2"),
    SynthVoice("festival_cs_krb", _F, "czech_krb", "cs", "it", "iso-8859-2", "festvox-czech-krb", "GPL-2 (child voice)"),
    SynthVoice("festival_cs_machac", _F, "czech_machac", "cs", "es", "iso-8859-2", "festvox-czech-machac", "GPL-2"),
    SynthVoice("festival_cs_ph", _F, "czech_ph", "cs", "es", "iso-8859-2", "festvox-czech-ph", "GPL-2"),
    SynthVoice("festival_fi_lj", _F, "suo_fi_lj_diphone", "fi", "it", "latin-1", "festvox-suopuhe-lj", "LGPL-2.1"),
    SynthVoice("festival_fi_mv", _F, "hy_fi_mv_diphone", "fi", "es", "latin-1", "festvox-suopuhe-mv", "LGPL-2.1"),
    SynthVoice("festival_ca_ona_hts", _F, "upc_ca_ona_hts", "ca", "es", "latin-1", "festvox-ca-ona-hts", "LGPL-2.1"),
    SynthVoice("festival_ru_nsh", _F, "msu_ru_nsh_clunits", "ru", "ru", "utf-8", "festvox-ru", "GPL-2+"),
    SynthVoice("flite_kal16", "flite", "kal16", "en", "en", package="flite", licence="flite (BSD-like)"),
    SynthVoice("flite_slt", "flite", "slt", "en", "en", package="flite", licence="flite (BSD-like)"),
    SynthVoice("flite_rms", "flite", "rms", "en", "en", package="flite", licence="flite (BSD-like)"),
    SynthVoice("flite_awb", "flite", "awb", "en", "en", package="flite", licence="flite (BSD-like)"),
] + [SynthVoice(f"espeak_{lang}+{var}", "espeak", f"{lang}+{var}", lang.split("-")[0], lang.split("-")[0],
                package="espeak-ng", licence="GPL-3")
     for lang, var in [("en-us", "f3"), ("en-us", "m3"), ("en-gb", "m1"), ("en-gb", "f2"), ("es", "m2"), ("es", "f4"),
                       ("fr", "m4"), ("fr", "f1"), ("it", "m6"), ("it", "f5"), ("ru", "m7"), ("ru", "f2")]]}


def texts(language: str, cache=None) -> list[str]:
    """The prompt texts of one language (sorted, at least three words)."""
    if language == "ru":
        from .prompts import VOICES as PV, own_transcripts

        table = own_transcripts(PV["ru_ivrvoice"], cache)
    else:
        table = read_transcripts(language)
    return sorted({t for t in table.values() if len(t.split()) >= 3})


def speakable(text: str) -> str:
    """The text without the ellipses and quotes that make festival crash or read punctuation."""
    import re

    return " ".join(re.sub(r"\.{2,}|[\"“”«»]", " ", text).split())


def _check_engine(engine: str) -> str:
    exe = {"festival": "text2wave", "flite": "flite", "espeak": "espeak-ng"}[engine]
    path = shutil.which(exe)
    if path is None:
        pkg = {"festival": "festival", "flite": "flite", "espeak": "espeak-ng"}[engine]
        raise MissingDependencyError(f"{exe} not found; install it with: sudo apt-get install {pkg}")
    return path


def synthesize(voice: SynthVoice, text: str, dst: Path) -> float:
    """One sentence -> ``dst`` (16 kHz mono 16-bit wav, atomically); returns its duration.
    An existing readable ``dst`` is kept (resume)."""
    import soundfile as sf

    if dst.exists():
        try:
            return sf.info(str(dst)).duration
        except Exception:
            pass
    dst.parent.mkdir(parents=True, exist_ok=True)
    raw = dst.with_name(f".{dst.name}.raw{os.getpid()}.wav")
    txt = dst.with_name(f".{dst.name}.txt{os.getpid()}")
    try:
        exe = _check_engine(voice.engine)
        if voice.engine == "festival":
            txt.write_bytes(text.encode(voice.encoding, errors="ignore"))
            cmd = [exe, "-eval", f"(voice_{voice.voice})", "-o", str(raw), str(txt)]
        elif voice.engine == "flite":
            cmd = [exe, "-voice", voice.voice, "-t", text, "-o", str(raw)]
        else:
            cmd = [exe, "-v", voice.voice, "-w", str(raw), text]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode != 0 or not raw.exists():
            last = (r.stderr.strip().splitlines() or ["no message"])[-1]
            raise CorpusError(f"{voice.id}: {voice.engine} failed on {text[:40]!r} ({last})")
        return decode_to_wav(raw, dst)  # to 16 kHz (festival's voices run at 16-32 kHz)
    finally:
        for f in (raw, txt):
            if f.exists():
                f.unlink()


def build_synthetic_voices(out: str | os.PathLike, voices=tuple(VOICES), per_voice: int = 100, seed: int = 0,
                           jobs: int = 2, cache=None, progress: bool = True) -> list[Utterance]:
    """``per_voice`` sentences of each voice into ``out/wav/<voice>/<n>.wav`` and ``out/all.jsonl``.
    The sentences of a voice are a seeded sample of its text language's prompts (fixed by
    ``seed`` and the voice id). Resumable."""
    from tqdm import tqdm

    unknown = [v for v in voices if v not in VOICES]
    if unknown:
        raise CorpusError(f"unknown voice(s) {unknown}; available: {sorted(VOICES)}")
    for engine in sorted({VOICES[v].engine for v in voices}):
        _check_engine(engine)
    out = Path(out)
    pools: dict[str, list[str]] = {}
    jobs_list = []
    for vid in voices:
        v = VOICES[vid]
        if v.text not in pools:
            pools[v.text] = texts(v.text, cache)
        pool = pools[v.text]
        picked = random.Random(f"{seed}:{vid}").sample(pool, min(per_voice, len(pool)))
        for i, t in enumerate(picked):
            uid = f"{vid}/{i:04d}"
            jobs_list.append((Utterance(uid, str(out / "wav" / f"{uid}.wav"), None, vid, v.language, t), v))
    failed: list[str] = []

    def one(job) -> float:
        try:
            return synthesize(job[1], speakable(job[0].text), Path(job[0].path))
        except CorpusError as e:  # festival crashes on a few sentences: skip them, say so at the end
            failed.append(str(e))
            return 0.0

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        durations = list(tqdm(pool.map(one, jobs_list), total=len(jobs_list), desc="synthesizing", unit="utt",
                              disable=not progress))
    if len(failed) > len(jobs_list) // 10:
        raise CorpusError(f"{len(failed)} of {len(jobs_list)} sentences failed to synthesize; first: {failed[0]}")
    if failed:
        import warnings

        from ..errors import SpeechtokWarning

        warnings.warn(f"{len(failed)} of {len(jobs_list)} sentences could not be synthesized and were left out "
                      f"(first: {failed[0]})", SpeechtokWarning, stacklevel=2)
    utts = []
    for (u, _), d in zip(jobs_list, durations):
        u.duration = round(d, 4)
        if d > 0.3:
            utts.append(u)
    write_manifest(out / "all.jsonl", utts, relative_to=out)
    return utts
