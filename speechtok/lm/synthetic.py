"""Synthetic English speech for LM training: Debian `fortunes` read by espeak-ng and flite voices.

``build_synthetic_corpus`` writes 16 kHz wavs and a manifest (``text``, ``speaker`` = voice) and
is resumable (wavs already written are kept). ``espeak`` / ``espeak_phonemes`` are the small
wrappers the lexical test uses too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.fortunes import FORTUNE_DIR, read_fortunes  # noqa: F401  (FORTUNE_DIR re-exported: it was defined here)

ESPEAK_VOICES = ("en-us", "en-us+f3", "en-gb")
FLITE_VOICES = ("awb", "rms", "slt")
SAMPLE_RATE = 16000


def _need(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if not path:
        raise RuntimeError(f"{binary} not found: apt-get install {package}")
    return path


def espeak(text: str, voice: str, out_wav: Path, speed: int = 165) -> None:
    """Speak ``text`` (``[[phonemes]]`` for espeak-ng phoneme mnemonics) into ``out_wav`` (22.05 kHz)."""
    res = subprocess.run([_need("espeak-ng", "espeak-ng"), "-v", voice, "-s", str(speed), "-w", str(out_wav), text],
                         capture_output=True, text=True)
    if res.returncode != 0 or not Path(out_wav).exists():
        raise RuntimeError(f"espeak-ng failed for voice {voice!r}: {res.stderr.strip()[:200]}")


def flite(text: str, voice: str, out_wav: Path) -> None:
    res = subprocess.run([_need("flite", "flite"), "-voice", voice, "-t", text, "-o", str(out_wav)], capture_output=True, text=True)
    if res.returncode != 0 or not Path(out_wav).exists():
        raise RuntimeError(f"flite failed for voice {voice!r}: {res.stderr.strip()[:200]}")


def espeak_phonemes(words: Sequence[str], voice: str = "en-us") -> list[str]:
    """espeak-ng's phoneme mnemonics (``-x``) of each word, e.g. ``banana`` -> ``ba#n'an@``."""
    exe = _need("espeak-ng", "espeak-ng")
    res = subprocess.run([exe, "-q", "-x", "-v", voice], input="\n".join(f"{w}." for w in words) + "\n",
                         capture_output=True, text=True)
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    if len(lines) != len(words):  # espeak joined or split lines: fall back to one call per word
        lines = [subprocess.run([exe, "-q", "-x", "-v", voice, w], capture_output=True, text=True).stdout.strip() for w in words]
    return lines


def synthesize(text: str, voice: str, out_wav: Path, engine: str = "espeak") -> float:
    """Speak into ``out_wav`` as 16 kHz mono wav (atomically); returns seconds."""
    from ..audio import load_audio, write_audio_atomic

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "x.wav"
        (espeak if engine == "espeak" else flite)(text, voice, raw)
        wav, _ = load_audio(raw, SAMPLE_RATE)
    write_audio_atomic(out_wav, wav, SAMPLE_RATE)
    return len(wav) / SAMPLE_RATE


#: the larger LM bench tier's readers: every English voice of `speechtok data speech`'s synthetic
#: set (festival diphone / unit selection / HTS, flite, espeak-ng variants) except the lexical
#: test's held-out voice (en-us+m3), plus espeak-ng's plain en-us and en-gb
LARGE_TIER_VOICES = ("festival_kal", "festival_ked", "festival_slt_hts", "flite_kal16", "flite_slt", "flite_rms",
                     "flite_awb", "espeak_en-us+f3", "espeak_en-gb+m1", "espeak_en-gb+f2", "espeak_en-us", "espeak_en-gb")


def _voice(vid: str):
    """A voice of ``speechtok.data.synthetic.VOICES``, or ``espeak_<name>`` for any espeak-ng voice."""
    from ..data.synthetic import VOICES, SynthVoice

    if vid in VOICES:
        return VOICES[vid]
    if vid.startswith("espeak_"):
        name = vid[len("espeak_"):]
        return SynthVoice(vid, "espeak", name, "en", "en", package="espeak-ng", licence="GPL-3")
    raise ValueError(f"unknown voice {vid!r}; use an id of speechtok.data.synthetic.VOICES or espeak_<espeak-ng voice>")


def build_reading_corpus(out_dir: str | Path, voices: Sequence[str] = LARGE_TIER_VOICES, per_voice: int = 600,
                         seed: int = 0, jobs: int = 1, progress: bool = True) -> Path:
    """Fortunes read once each: a seeded permutation of the fortunes dealt to the voices in turn,
    ``per_voice`` each (fewer if the fortunes run out). Writes ``out_dir/wav/<voice>/<n>.wav`` and
    ``out_dir/train.jsonl``; resumable (wavs already written are kept). A text a voice cannot read
    (festival crashes on a few) is left out and listed in ``out_dir/skipped.jsonl``. Returns the
    manifest."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    from ..data.asterisk import CorpusError
    from ..data.manifest import Utterance, write_manifest
    from ..data.synthetic import speakable, synthesize as synth_voice
    from ..fsutil import write_atomic

    out = Path(out_dir)
    fortunes = read_fortunes()
    order = np.random.default_rng(seed).permutation(len(fortunes))
    vs = [_voice(v) for v in voices]
    n = min(len(fortunes), per_voice * len(vs))
    work = [(vs[i % len(vs)], int(order[i])) for i in range(n)]

    def one(job):
        voice, j = job
        path = out / "wav" / voice.id.replace("+", "_") / f"{j:05d}.wav"
        try:
            return voice, j, path, synth_voice(voice, speakable(fortunes[j]), path)
        except CorpusError as e:
            return voice, j, path, str(e)

    utts, skipped = [], []
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for voice, j, path, seconds in tqdm(pool.map(one, work), total=len(work), desc="read fortunes", unit="utt",
                                            disable=not progress):
            vid = voice.id.replace("+", "_")
            if isinstance(seconds, str):
                skipped.append({"voice": vid, "fortune": j, "error": seconds})
                continue
            utts.append(Utterance(id=f"{vid}/{j:05d}", path=str(path.resolve()), duration=round(seconds, 3), speaker=vid,
                                  language="en", text=fortunes[j], split="train"))
    text = "".join(json.dumps(x) + "\n" for x in skipped)
    write_atomic(out / "skipped.jsonl", lambda tmp: tmp.write_text(text))
    manifest = out / "train.jsonl"
    write_manifest(manifest, utts, relative_to=out)
    return manifest


def build_synthetic_corpus(out_dir: str | Path, per_voice: int = 60, seed: int = 0,
                           espeak_voices: Sequence[str] = ESPEAK_VOICES, flite_voices: Sequence[str] = FLITE_VOICES,
                           progress: bool = True) -> Path:
    """``per_voice`` fortunes (a different seeded sample for each voice) read by every voice.
    Writes ``out_dir/wav/<voice>/<n>.wav`` and ``out_dir/train.jsonl``; returns the manifest."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..data.manifest import Utterance, write_manifest

    out = Path(out_dir)
    fortunes = read_fortunes()
    rng = np.random.default_rng(seed)
    jobs = []
    for engine, voices in (("espeak", espeak_voices), ("flite", flite_voices)):
        for v in voices:
            for j in rng.choice(len(fortunes), size=min(per_voice, len(fortunes)), replace=False):
                jobs.append((engine, v, int(j)))
    utts = []
    for engine, voice, j in tqdm(jobs, desc="synthesize fortunes", unit="utt", disable=not progress):
        vid = voice.replace("+", "_")
        path = out / "wav" / vid / f"{j:05d}.wav"
        if path.exists():
            seconds = len(load_audio(path)[0]) / SAMPLE_RATE
        else:
            seconds = synthesize(fortunes[j], voice, path, engine)
        utts.append(Utterance(id=f"{vid}/{j:05d}", path=str(path.resolve()), duration=round(seconds, 3), speaker=vid,
                              language="en", text=fortunes[j], split="train"))
    manifest = out / "train.jsonl"
    write_manifest(manifest, utts, relative_to=out)
    return manifest
