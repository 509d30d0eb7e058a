"""speechtok.data: manifests, input listing, the Asterisk corpus builder, the shipped clips."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechtok.audio import load_audio, write_audio_atomic
from speechtok.data import (
    ManifestError,
    Utterance,
    clips_manifest_path,
    list_inputs,
    read_manifest,
    shipped_clips,
    write_manifest,
)
from speechtok.data import asterisk

HAVE_FFMPEG = shutil.which("ffmpeg") is not None
HAVE_ASTERISK = all(
    (asterisk.SOUNDS_ROOT / v.folder).is_dir() and asterisk.transcript_path(lang).is_file()
    for lang, v in asterisk.VOICES.items()
)
needs_ffmpeg = pytest.mark.skipif(not HAVE_FFMPEG, reason="ffmpeg not installed (apt-get install ffmpeg)")
needs_asterisk = pytest.mark.skipif(
    not (HAVE_ASTERISK and HAVE_FFMPEG),
    reason=f"Asterisk prompts not installed ({asterisk.install_command(asterisk.VOICES)})",
)


# --- manifests -------------------------------------------------------------------------------------


def test_manifest_round_trip_with_relative_paths(tmp_path):
    utts = [
        Utterance("a", str(tmp_path / "wav" / "a.wav"), 1.25, "spk1", "en", "héllo: world", "train"),
        Utterance("sub/b", str(tmp_path / "wav" / "sub" / "b.wav")),
    ]
    m = tmp_path / "m.jsonl"
    write_manifest(m, utts, relative_to=tmp_path)
    rows = [json.loads(line) for line in m.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["path"] == "wav/a.wav" and rows[1]["path"] == "wav/sub/b.wav"
    assert rows[0]["text"] == "héllo: world"
    assert read_manifest(m) == utts
    assert [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]  # no temporary file left behind
    # Moving the folder keeps the manifest valid: paths resolve against its new place.
    moved = tmp_path.parent / (tmp_path.name + "_moved")
    shutil.move(str(tmp_path), moved)
    assert read_manifest(moved / "m.jsonl")[0].path == str(moved / "wav" / "a.wav")


def test_manifest_defaults_and_foreign_fields(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"path": "x/y.flac", "extra": 1, "duration": 2}\n\n{"id": 7, "path": "/abs/z.wav"}\n')
    a, b = read_manifest(m)
    assert a.id == "x/y" and a.path == str(tmp_path / "x" / "y.flac") and a.duration == 2.0
    assert b.id == "7" and b.path == "/abs/z.wav" and b.text is None


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"path": "a.wav"}\n{"path": "b.wav", \n', "m.jsonl:2: bad JSON"),
        ('{"path": "a.wav"}\n\n{"id": "b"}\n', "m.jsonl:3: missing or empty 'path'"),
        ('["a.wav"]\n', "m.jsonl:1: expected a JSON object"),
        ('{"path": "a.wav", "duration": "long"}\n', "m.jsonl:1: 'duration' must be a number"),
    ],
)
def test_manifest_errors_name_file_and_line(tmp_path, content, message):
    m = tmp_path / "m.jsonl"
    m.write_text(content)
    with pytest.raises(ManifestError, match=message.replace(".", r"\.")):
        read_manifest(m)


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        read_manifest(tmp_path / "nope.jsonl")


# --- list_inputs --------------------------------------------------------------------------------------


def _tone(seconds=0.2, sr=16000):
    return (0.1 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def test_list_inputs_folder_file_and_manifest(tmp_path):
    for rel in ("b.wav", "a/x.flac", "a/b/y.WAV"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix == ".flac":
            sf.write(str(p), _tone(), 16000)
        else:
            write_audio_atomic(p, _tone(), 16000)
    (tmp_path / "notes.txt").write_text("not audio")
    utts = list_inputs(tmp_path)
    assert [u.id for u in utts] == ["a/b/y", "a/x", "b"]
    assert all(Path(u.path).is_absolute() and Path(u.path).is_file() for u in utts)

    assert [u.id for u in list_inputs(tmp_path / "b.wav")] == ["b"]
    write_manifest(tmp_path / "m.jsonl", utts, relative_to=tmp_path)
    assert list_inputs(tmp_path / "m.jsonl") == utts


def test_list_inputs_errors(tmp_path):
    with pytest.raises(ManifestError, match="no such file or folder"):
        list_inputs(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no audio files"):
        list_inputs(tmp_path / "empty")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ManifestError, match="x.txt: neither a manifest"):
        list_inputs(tmp_path / "x.txt")


# --- Asterisk transcripts ---------------------------------------------------------------------------

MADE_UP_TRANSCRIPT = """\ufeff; Core Asterisk Sounds in Testish
; a comment: with a colon

activated: Activated.
beep: [this is a simple beep tone]
confbridge-join: <beep ascending>
digits/1: one
letters/dollar: dollar [$]
silence/1: (1 second of silence)
dir-usingkeypad:
vm-intro: Please leave your message after the tone.  (simple tone sound plays)
screen-options: You have these options:Press 1.
not an entry line
"""


def test_parse_transcripts():
    texts = asterisk.parse_transcripts(MADE_UP_TRANSCRIPT)
    assert texts == {
        "activated": "Activated.",
        "digits/1": "one",
        "letters/dollar": "dollar",
        "vm-intro": "Please leave your message after the tone.",
        "screen-options": "You have these options:Press 1.",
    }


def test_italian_repairs():
    assert asterisk.repair_text("it", "Quella funzione non ? attiva.") == "Quella funzione non è attiva."
    assert asterisk.repair_text("it", "non pu? essere completata cos? come") == "non può essere completata così come"
    assert asterisk.repair_text("it", "Casella di posta?") == "Casella di posta?"
    assert asterisk.repair_text("en", "what ? now") == "what ? now"


# --- splits ---------------------------------------------------------------------------------------------


def test_splits_deterministic_stable_and_ratios():
    ids = [f"g{i % 4}/utt{i:05d}" for i in range(20000)]
    groups = {u: u.split("/")[0] for u in ids}
    a = asterisk.assign_splits(ids, groups, seed=0)
    assert a == asterisk.assign_splits(list(reversed(ids)), groups, seed=0)
    counts = Counter(a.values())
    assert abs(counts["train"] / len(ids) - 0.90) < 0.01
    assert abs(counts["valid"] / len(ids) - 0.05) < 0.01
    assert abs(counts["test"] / len(ids) - 0.05) < 0.01
    # Adding files never moves the existing ones.
    more = ids + [f"g{i % 4}/new{i}" for i in range(500)]
    b = asterisk.assign_splits(more, {u: u.split("/")[0] for u in more}, seed=0)
    assert all(b[u] == a[u] for u in ids)
    # Another seed is another split.
    c = asterisk.assign_splits(ids, groups, seed=1)
    assert sum(c[u] != a[u] for u in ids) > 0.1 * len(ids)  # ~18.5% expected


def test_every_group_in_every_split_even_when_small():
    ids = [f"big/{i}" for i in range(400)] + [f"small{j}/{i}" for j in range(20) for i in range(3)]
    groups = {u: u.split("/")[0] for u in ids}
    for seed in range(5):
        s = asterisk.assign_splits(ids, groups, seed=seed)
        for g in set(groups.values()):
            assert {s[u] for u in ids if groups[u] == g} == {"train", "valid", "test"}, (seed, g)


# --- the corpus builder on a made-up install (real ffmpeg, synthetic G.722) -----------------------


def _fake_install(root: Path, names: dict[str, str]) -> None:
    """A tiny stand-in for the Debian packages: G.722 files encoded by ffmpeg and a transcript."""
    voice = asterisk.VOICES["en"]
    for i, name in enumerate(names):
        dst = root / "sounds" / voice.folder / f"{name}.g722"
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", f"sine=frequency={300 + 50 * i}:duration=0.5",
             "-ar", "16000", "-ac", "1", "-c:a", "g722", "-f", "g722", str(dst)],
            check=True,
        )
    doc = asterisk.transcript_path("en").relative_to(asterisk.DOC_ROOT)
    (root / "doc" / doc).parent.mkdir(parents=True)
    with gzip.open(root / "doc" / doc, "wt", encoding="utf-8") as f:
        f.write("; made up\n" + "".join(f"{k}: {v}\n" for k, v in names.items()))


@needs_ffmpeg
def test_build_corpus_end_to_end_and_resume(tmp_path, monkeypatch):
    names = {f"p{i}": f"prompt {i}" for i in range(8)}
    names.update({"digits/1": "one", "beep": "[a beep]"})
    _fake_install(tmp_path / "sys", names)
    monkeypatch.setattr(asterisk, "SOUNDS_ROOT", tmp_path / "sys" / "sounds")
    monkeypatch.setattr(asterisk, "DOC_ROOT", tmp_path / "sys" / "doc")
    out = tmp_path / "corpus"
    utts = asterisk.build_corpus(out, languages=["en"], progress=False)
    assert len(utts) == 9  # the beep is not speech
    all_ = read_manifest(out / "all.jsonl")
    assert [u.id for u in all_] == sorted(u.id for u in all_) and "en/digits/1" in {u.id for u in all_}
    assert {u.split for u in all_} == {"train", "valid", "test"}
    parts = [read_manifest(out / f"{s}.jsonl") for s in ("train", "valid", "test")]
    assert sorted(u.id for p in parts for u in p) == sorted(u.id for u in all_)
    for u in all_:
        audio, sr = load_audio(u.path)
        assert sr == 16000 and abs(len(audio) / sr - 0.5) < 0.01 and abs(u.duration - 0.5) < 0.01
        assert u.speaker == "allison_smith" and u.language == "en" and u.text
    # Resume: decoded wavs are kept as they are; a removed one is decoded again.
    first = Path(all_[0].path)
    stamp = Path(all_[1].path).stat().st_mtime_ns
    first.unlink()
    assert asterisk.build_corpus(out, languages=["en"], progress=False) == utts
    assert first.is_file() and Path(all_[1].path).stat().st_mtime_ns == stamp


def test_missing_packages_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(asterisk, "SOUNDS_ROOT", tmp_path)
    with pytest.raises(asterisk.CorpusError, match="apt-get install asterisk-core-sounds-fr-g722 asterisk-core-sounds-fr"):
        asterisk.build_corpus(tmp_path / "out", languages=["fr"], progress=False)
    with pytest.raises(asterisk.CorpusError, match="unknown language"):
        asterisk.build_corpus(tmp_path / "out", languages=["xx"], progress=False)


def test_cli_bad_language_exits_2(capsys):
    from speechtok.cli import main

    assert main(["data", "asterisk", "--languages", "xx", "--out", "/nonexistent/never"]) == 2
    assert "unknown language" in capsys.readouterr().err


# --- the real Debian packages ---------------------------------------------------------------------


@needs_asterisk
def test_real_prompts_parse_and_shipped_clips_are_held_out():
    sources = {lang: asterisk.find_sources(lang) for lang in asterisk.VOICES}
    assert all(len(s) > 400 for s in sources.values()), {k: len(v) for k, v in sources.items()}
    ids = [f"{lang}/{name}" for lang, s in sources.items() for name, _, _ in s]
    splits = asterisk.assign_splits(ids, {u: u.split("/")[0] for u in ids}, seed=0)
    texts = {f"{lang}/{name}": text for lang, s in sources.items() for name, _, text in s}
    for clip in shipped_clips():
        assert splits[clip.id] == "test", clip.id
        assert texts[clip.id] == clip.text


@needs_asterisk
def test_shipped_clips_are_the_decoded_prompts(tmp_path):
    for clip in shipped_clips():
        lang, name = clip.id.split("/", 1)
        src = asterisk.SOUNDS_ROOT / asterisk.VOICES[lang].folder / f"{name}.g722"
        asterisk.decode_g722(src, tmp_path / "x.wav")
        # Samples, not bytes: ffmpeg writes its version into the wav header.
        fresh, _ = sf.read(str(tmp_path / "x.wav"), dtype="int16")
        shipped, _ = sf.read(clip.path, dtype="int16")
        assert np.array_equal(fresh, shipped), clip.id
        (tmp_path / "x.wav").unlink()


# --- the shipped clips --------------------------------------------------------------------------------


def test_shipped_clips_load_and_match_manifest():
    clips = shipped_clips()
    assert clips_manifest_path().is_file()
    assert sorted(c.language for c in clips) == ["en", "es", "fr", "it"]
    assert {c.speaker for c in clips} == {"allison_smith", "june_wallack", "carlo_flora"}
    wavs = sorted(p.name for p in clips_manifest_path().parent.glob("*.wav"))
    assert wavs == sorted(Path(c.path).name for c in clips)
    for c in clips:
        assert Path(c.path).name.startswith(c.language + "_") and c.split == "test" and c.text
        info = sf.info(c.path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        audio, sr = load_audio(c.path)
        assert sr == 16000 and 2.0 <= len(audio) / sr <= 5.0
        assert abs(len(audio) / sr - c.duration) < 1e-3
        assert np.sqrt(np.mean(audio**2)) > 0.01  # speech, not silence
    assert (clips_manifest_path().parent / "ATTRIBUTION.md").is_file()


@needs_ffmpeg
def test_decode_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.g722"
    bad.write_bytes(b"")
    with pytest.raises(asterisk.CorpusError, match="bad.g722: ffmpeg could not decode it"):
        asterisk.decode_g722(bad, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists() and list(tmp_path.iterdir()) == [bad]
