"""`speechtok encode | decode | info | list | demo` end to end, in process, on a temporary folder."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from speechtok import Tokens
from speechtok.audio import load_audio
from speechtok.cli import main


def files_under(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def audio_folder(tmp_path, speech_paths):
    """in/a.wav, in/bad.wav (text: sorted between the good ones), in/sub/b.wav, in/notes.txt."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(speech_paths[0], src / "a.wav")
    (src / "bad.wav").write_text("not audio at all\n")
    shutil.copy(speech_paths[1], src / "sub" / "b.wav")
    (src / "notes.txt").write_text("ignored: not an audio extension\n")
    return src


def test_encode_folder_with_a_bad_file_then_resume(tmp_path, audio_folder, capsys):
    out = tmp_path / "tok"
    assert main(["encode", str(audio_folder), "-o", str(out), "-t", "opus@8kbps"]) == 1
    err = capsys.readouterr().err
    bad_lines = [line for line in err.splitlines() if "bad.wav" in line]
    assert len(bad_lines) == 1 and "not a readable audio file" in bad_lines[0]
    assert "2 written, 0 skipped, 1 failed" in err
    assert files_under(out) == ["a.stok", "sub/b.stok"]  # layout kept; nothing half-written
    first = Tokens.load(out / "a.stok")
    assert first.tokenizer == "opus@8kbps"
    mtime = os.stat(out / "a.stok").st_mtime_ns

    # a rerun skips what is done and still reports the bad file
    assert main(["encode", str(audio_folder), "-o", str(out), "-t", "opus@8kbps"]) == 1
    assert "0 written, 2 skipped" in capsys.readouterr().err
    assert os.stat(out / "a.stok").st_mtime_ns == mtime

    # once the bad file is gone the run is clean; --overwrite redoes the rest, identically
    (audio_folder / "bad.wav").unlink()
    assert main(["encode", str(audio_folder), "-o", str(out), "-t", "opus@8kbps", "--overwrite"]) == 0
    assert "2 written, 0 skipped, 0 failed" in capsys.readouterr().err
    assert Tokens.load(out / "a.stok") == first


def test_interrupted_write_leaves_nothing(tmp_path, audio_folder, monkeypatch, capsys):
    """If the final rename fails (disk full, kill), neither the output nor a temp file remains."""
    (audio_folder / "bad.wav").unlink()
    out = tmp_path / "tok"

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    assert main(["encode", str(audio_folder), "-o", str(out)]) == 2  # a full disk stops the run at once
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "a.stok: no space left on device" in err[0], err
    assert files_under(out) == []


def test_decode_info_round_trip(tmp_path, audio_folder, capsys):
    (audio_folder / "bad.wav").unlink()
    toks, wavs = tmp_path / "tok", tmp_path / "wav"
    assert main(["encode", str(audio_folder), "-o", str(toks), "-t", "codec2@1300"]) == 0
    assert main(["decode", str(toks), "-o", str(wavs)]) == 0
    assert files_under(wavs) == ["a.wav", "sub/b.wav"]
    original, sr = load_audio(audio_folder / "a.wav")
    decoded, out_sr = load_audio(wavs / "a.wav")
    assert out_sr == 8000 and len(decoded) == round(len(original) * 8000 / sr)
    assert np.abs(decoded).max() > 0.01  # speech, not silence

    capsys.readouterr()
    assert main(["info", str(toks / "a.stok")]) == 0
    text = capsys.readouterr().out
    assert "codec2@1300 (codec2 " in text and "6x256 + 1x16" in text and "at 25 Hz" in text
    assert main(["info", "--json", str(toks / "a.stok")]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["tokenizer"] == "codec2@1300" and row["kbps"] == pytest.approx(1.3, abs=0.03)
    assert row["tokens_per_s"] == pytest.approx(7 * 25, rel=0.03)

    # one file decodes to a named .wav; info on a foreign file fails in one line, exit 1
    assert main(["decode", str(toks / "sub" / "b.stok"), "-o", str(tmp_path / "one.wav")]) == 0
    assert (tmp_path / "one.wav").is_file()
    assert main(["info", str(toks / "a.stok"), str(audio_folder / "a.wav")]) == 1
    assert "a.wav: not a speechtok token file" in capsys.readouterr().err


def test_single_file_encode(tmp_path, speech_paths):
    assert main(["encode", str(speech_paths[0]), "-o", str(tmp_path / "x.stok")]) == 0
    assert main(["encode", str(speech_paths[0]), "-o", str(tmp_path / "folder")]) == 0
    assert Tokens.load(tmp_path / "x.stok") == Tokens.load(tmp_path / "folder" / f"{speech_paths[0].stem}.stok")


@pytest.mark.parametrize("argv,message", [
    (["encode", "{tmp}/missing", "-o", "{tmp}/o"], "missing: no such file or folder"),
    (["encode", "{tmp}/bad.wav", "-o", "{tmp}/o"], "bad.wav: not a readable audio file"),
    (["encode", "{tmp}/empty", "-o", "{tmp}/o"], "folder has no audio files"),
    (["encode", "{tmp}/empty", "-o", "{tmp}/o", "-t", "opus@3kbps"], "opus@3kbps"),
    (["decode", "{tmp}/missing.stok", "-o", "{tmp}/o"], "missing.stok: no such file"),
    (["decode", "{tmp}/empty", "-o", "{tmp}/o"], "folder has no .stok token files"),
    (["decode", "{tmp}/bad.wav", "-o", "{tmp}/o"], "bad.wav: not a speechtok token file"),
])
def test_bad_input_exits_2(tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.wav").write_text("text")
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any(message in line for line in err), err
    assert not (tmp_path / "o").exists()


def test_list(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line.split() for line in lines if line.startswith("opus@6kbps "))
    assert row == ["opus@6kbps", "16000", "50", "15x256", "6"]
    assert main(["list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["codec2@700C"]["kbps"] == 0.7 and rows["codec2@700C"]["codebook_sizes"] == [256, 256, 256, 16]
    assert rows["pcm16"]["sample_rate"] == 16000


def test_demo(tmp_path, speech_paths, capsys):
    shutil.copy(speech_paths[0], tmp_path / "clip.wav")
    assert main(["demo", "--clips", str(tmp_path), "--compare", "codec2@3200", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    from speechtok.defaults import DEFAULT_TOKENIZER

    rows = {line.split()[0]: line.split() for line in out.splitlines()[3:] if line.split()[0] in
            (DEFAULT_TOKENIZER, "codec2@3200")}
    assert set(rows) == {DEFAULT_TOKENIZER, "codec2@3200"}
    assert 3.2 <= float(rows["codec2@3200"][1]) < 3.4  # measured kbps
    assert (tmp_path / "o" / "codec2@3200" / "clip.wav").is_file()
