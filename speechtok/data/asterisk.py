"""The Asterisk core prompts as a small, freely licensed, transcribed multilingual speech corpus.

Debian ships them as ``asterisk-core-sounds-XX-g722`` (G.722 audio, 16 kHz wideband) and the
transcripts in ``asterisk-core-sounds-XX`` (``/usr/share/doc/.../core-sounds-XX.txt.gz``, lines
``name: text``, names may have a subfolder like ``digits/1``). :func:`build_corpus` decodes them
to 16 kHz mono 16-bit wav and writes manifests with fixed train/valid/test splits.

One professional voice per language, studio quality, read prompts: good for quick, honest
experiments and held-out clips; far too small and too clean to be the only training data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import subprocess
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingDependencyError, SpeechtokError
from .manifest import Utterance, write_manifest

SAMPLE_RATE = 16_000  # G.722 is wideband speech at 16 kHz; ffmpeg's decoder reports the same
SOUNDS_ROOT = Path("/usr/share/asterisk/sounds")
DOC_ROOT = Path("/usr/share/doc")
SPLITS = ("train", "valid", "test")
DEFAULT_RATIOS = (0.90, 0.05, 0.05)


@dataclass(frozen=True)
class Voice:
    language: str  # ISO 639-1, as in the Debian package name
    folder: str  # under SOUNDS_ROOT: the real folder, not the en/ es/ alternatives symlinks
    speaker: str
    licence: str  # from /usr/share/doc/asterisk-core-sounds-XX/copyright


VOICES = {
    "en": Voice("en", "en_US_f_Allison", "allison_smith", "CC-BY-SA-3.0"),
    "es": Voice("es", "es_MX_f_Allison", "allison_smith", "CC-BY-SA-3.0"),
    "fr": Voice("fr", "fr_CA_f_June", "june_wallack", "CC-BY-SA-3.0"),
    "it": Voice("it", "it_IT_m_Carlo", "carlo_flora", "CC-BY-3.0"),
}


class CorpusError(SpeechtokError, ValueError):
    """A corpus that cannot be built from what is on disk."""


# --- transcripts -----------------------------------------------------------------------------

_ENTRY = re.compile(r"^([\w][\w\-./]*):(.*)$")
# Notes in the transcripts, not speech: [tone descriptions], (stage directions), <beep>.
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>")


def clean_text(text: str) -> str:
    """Drop bracketed/parenthesised/angled notes and squeeze spaces; '' means no speech."""
    text = _ANNOTATION.sub(" ", text)
    return " ".join(text.split())


def parse_transcripts(text: str) -> dict[str, str]:
    """``name: text`` lines -> {name: cleaned text}. Skips comments (``;``), blank lines, and
    entries with no speech left after :func:`clean_text` (tones, silence, empty)."""
    out: dict[str, str] = {}
    for line in text.lstrip("\ufeff").splitlines():  # the Italian file starts with a BOM
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        m = _ENTRY.match(line)
        if not m:
            continue
        spoken = clean_text(m.group(2))
        if spoken:
            out[m.group(1)] = spoken
    return out


# The Italian transcript lost its accented vowels to '?' on 11 lines (e.g. "non ? attiva");
# these are all the forms that occur in asterisk-core-sounds-it 1.6.1.
_TEXT_REPAIRS = {
    "it": ((re.compile(r"(?<=\s)\?(?=\s)"), "è"), (re.compile(r"\bsar\?"), "sarà"),
           (re.compile(r"\bpu\?"), "può"), (re.compile(r"\bcos\?"), "così"), (re.compile(r"\bpi\?"), "più")),
}


def repair_text(language: str, text: str) -> str:
    for pattern, repl in _TEXT_REPAIRS.get(language, ()):
        text = pattern.sub(repl, text)
    return text


def read_transcripts(language: str) -> dict[str, str]:
    """The installed transcript of one language, parsed and repaired: {name: text}."""
    with gzip.open(transcript_path(language), "rt", encoding="utf-8") as f:
        return {k: repair_text(language, v) for k, v in parse_transcripts(f.read()).items()}


def transcript_path(language: str) -> Path:
    return DOC_ROOT / f"asterisk-core-sounds-{language}" / f"core-sounds-{language}.txt.gz"


def install_command(languages) -> str:
    pkgs = " ".join(f"asterisk-core-sounds-{lang}{sfx}" for lang in languages for sfx in ("-g722", ""))
    return f"sudo apt-get install {pkgs} ffmpeg"


def check_installed(languages) -> None:
    """Raise CorpusError with the apt-get command when a language's prompts or transcript are absent."""
    missing = [lang for lang in languages
               if not (SOUNDS_ROOT / VOICES[lang].folder).is_dir() or not transcript_path(lang).is_file()]
    if not missing:
        return
    hint = ""
    if all((SOUNDS_ROOT / VOICES[lang].folder).is_dir() for lang in missing):
        # Slim Docker images drop /usr/share/doc/* via dpkg path-exclude, transcripts included.
        hint = ("\n(the sounds are there but not the transcripts: if /etc/dpkg/dpkg.cfg.d/ excludes "
                "/usr/share/doc, allow /usr/share/doc/asterisk-core-sounds-* and reinstall with apt-get install --reinstall)")
    raise CorpusError(f"Asterisk prompts for {', '.join(missing)} not installed (looked for "
                      f"{SOUNDS_ROOT / VOICES[missing[0]].folder} and {transcript_path(missing[0])}); "
                      f"install them with:\n  {install_command(missing)}{hint}")


def find_sources(language: str) -> list[tuple[str, Path, str]]:
    """``[(name, g722 path, text)]`` for one language, sorted by name; files without a
    transcript (tones, silence, a few untranscribed prompts) and transcript entries without
    a file are left out."""
    check_installed([language])
    folder = SOUNDS_ROOT / VOICES[language].folder
    texts = read_transcripts(language)
    # A few names differ from the files only in case (es digits/1f vs 1F.g722, it letters/O).
    folded = {k.lower(): v for k, v in texts.items()}
    out = []
    for f in sorted(folder.rglob("*.g722")):
        name = f.relative_to(folder).with_suffix("").as_posix()
        text = texts.get(name) or folded.get(name.lower())
        if text:
            out.append((name, f, text))
    return out


# --- splits ------------------------------------------------------------------------------------


def _unit_hash(uid: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, id) alone, so adding files never moves others."""
    digest = hashlib.sha256(f"{seed}:{uid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(ids, groups=None, seed: int = 0, ratios=DEFAULT_RATIOS) -> dict[str, str]:
    """{id: 'train'|'valid'|'test'} from a seeded hash of each id (about ``ratios``).

    ``groups`` ({id: group}, e.g. the language) guarantees each group with at least 3 ids a
    place in every split: a split a group lacks takes one id from the group's largest split (its
    highest-hash one). Only tiny groups ever need this; all others stay fixed by the hash.
    """
    if len(ratios) != 3 or any(r <= 0 for r in ratios):
        raise ValueError(f"ratios must be 3 positive numbers, got {ratios!r}")
    total = sum(ratios)
    edges = (ratios[0] / total, (ratios[0] + ratios[1]) / total)
    h = {uid: _unit_hash(uid, seed) for uid in ids}
    split = {uid: SPLITS[0] if x < edges[0] else SPLITS[1] if x < edges[1] else SPLITS[2] for uid, x in h.items()}
    by_group: dict[str, list[str]] = defaultdict(list)
    for uid in h:
        by_group[groups[uid] if groups else ""].append(uid)
    for members in by_group.values():
        if len(members) < len(SPLITS):
            continue
        for name in (SPLITS[2], SPLITS[1]):
            if not any(split[u] == name for u in members):
                donor = max(SPLITS, key=lambda s: sum(split[u] == s for u in members))
                split[max((u for u in members if split[u] == donor), key=h.get)] = name
    return split


# --- decoding ------------------------------------------------------------------------------------


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise MissingDependencyError("ffmpeg not found; install it with: sudo apt-get install ffmpeg")
    return exe


def decode_g722(src: Path, dst: Path, ffmpeg: str | None = None) -> float:
    """Decode one G.722 file to a 16 kHz mono 16-bit wav (atomically); returns its duration (s).
    An existing readable ``dst`` is kept (resume)."""
    return decode_to_wav(src, dst, "g722", ffmpeg)


def decode_to_wav(src: Path, dst: Path, input_format: str | None = None, ffmpeg: str | None = None,
                  sample_rate: int = SAMPLE_RATE) -> float:
    """Decode one audio file (``input_format``: ffmpeg's ``-f`` for headerless formats such as
    ``g722`` or ``gsm``; None = let ffmpeg probe) to a ``sample_rate`` mono 16-bit wav, atomically;
    returns its duration (s). An existing readable ``dst`` is kept (resume). Narrowband sources
    (8 kHz) are resampled, not band-extended: they keep no energy above 4 kHz."""
    import soundfile as sf

    if dst.exists():
        try:
            return sf.info(str(dst)).duration
        except Exception:  # a damaged leftover: decode again
            pass
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}.wav")
    fmt = ["-f", input_format] if input_format else []
    cmd = [ffmpeg or _ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
           *fmt, "-i", str(src), "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["no message"])[-1]
            raise CorpusError(f"{src}: ffmpeg could not decode it ({last})")
        duration = sf.info(str(tmp)).duration
        if duration <= 0:  # ffmpeg exits 0 on an empty or headerless input
            raise CorpusError(f"{src}: ffmpeg could not decode it (no audio in the file)")
        os.replace(tmp, dst)
        return duration
    finally:
        if tmp.exists():
            tmp.unlink()


def build_corpus(out: str | os.PathLike, languages=("en", "es", "fr", "it"), seed: int = 0,
                 jobs: int = 2, progress: bool = True) -> list[Utterance]:
    """Decode the prompts into ``out/wav/<lang>/...wav`` and write ``out/{all,train,valid,test}.jsonl``
    (paths relative to ``out``). Resumable: wavs already there are not decoded again."""
    from tqdm import tqdm

    unknown = [lang for lang in languages if lang not in VOICES]
    if unknown:
        raise CorpusError(f"unknown language(s) {unknown}; available: {sorted(VOICES)}")
    check_installed(languages)
    ffmpeg = _ffmpeg()
    out = Path(out)
    jobs_list = []  # (Utterance without duration, source)
    for lang in languages:
        voice = VOICES[lang]
        for name, src, text in find_sources(lang):
            uid = f"{lang}/{name}"
            wav = out / "wav" / f"{uid}.wav"
            jobs_list.append((Utterance(uid, str(wav), None, voice.speaker, lang, text), src))
    ids = [u.id for u, _ in jobs_list]
    # Group by language, not speaker: Allison Smith speaks both en and es, and each language
    # must be present in every split.
    splits = assign_splits(ids, {u.id: u.language for u, _ in jobs_list}, seed=seed)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # each thread waits on one ffmpeg
        durations = list(tqdm(pool.map(lambda j: decode_g722(j[1], Path(j[0].path), ffmpeg), jobs_list),
                              total=len(jobs_list), desc="decoding G.722", unit="file", disable=not progress))
    utts = []
    for (u, _), d in zip(jobs_list, durations):
        u.duration = round(d, 4)
        u.split = splits[u.id]
        utts.append(u)
    write_manifest(out / "all.jsonl", utts, relative_to=out)
    for name in SPLITS:
        write_manifest(out / f"{name}.jsonl", [u for u in utts if u.split == name], relative_to=out)
    return utts


def summarize(utts: list[Utterance]) -> str:
    """A small plain-text table: files and hours per language, speaker and split."""
    lines = [f"{len(utts)} files, {sum(u.duration or 0 for u in utts) / 3600:.3f} h"]
    for field in ("language", "speaker", "split"):
        tally: dict[str, list[float]] = defaultdict(list)
        for u in utts:
            tally[getattr(u, field)].append(u.duration or 0.0)
        lines.append(f"by {field}:")
        for key in sorted(tally):
            lines.append(f"  {key:<14} {len(tally[key]):>5} files  {sum(tally[key]) / 3600:6.3f} h")
    return "\n".join(lines)


# One held-out (test split, seed 0) prompt per language, 2-5 s: the clips shipped in
# speechtok/assets/clips for quick starts and smoke tests.
CLIP_IDS = ("en/privacy-prompt", "es/vm-tocancelmsg", "fr/privacy-prompt", "it/vm-marked-urgent")


def export_clips(corpus: str | os.PathLike, out: str | os.PathLike, ids=CLIP_IDS) -> list[Utterance]:
    """Copy the wavs of ``ids`` from a built corpus folder to ``out/<lang>_<name>.wav`` and write
    ``out/clips.jsonl`` (relative paths). Raises CorpusError for an id the corpus lacks."""
    from .manifest import read_manifest

    corpus, out = Path(corpus), Path(out)
    by_id = {u.id: u for u in read_manifest(corpus / "all.jsonl")}
    clips = []
    for uid in ids:
        if uid not in by_id:
            raise CorpusError(f"{corpus / 'all.jsonl'}: no utterance {uid!r}")
        u = by_id[uid]
        dst = out / (uid.replace("/", "_") + ".wav")
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
        shutil.copyfile(u.path, tmp)
        os.replace(tmp, dst)
        clips.append(Utterance(u.id, str(dst), u.duration, u.speaker, u.language, u.text, u.split))
    write_manifest(out / "clips.jsonl", clips, relative_to=out)
    return clips
