"""The bad-input catalogue (issue 12): every CLI command and the public API driven with input a
careful user might give by mistake. Each case asserts the exit code, one stderr line naming the
file, no traceback, and that no file that existed before changed (hash before/after).

The catalogue is ``CLI_CASES`` (parametrised) plus the tests below it; its size is reported in the
README's reliability section (``pytest tests/test_hardening.py`` counts the cases).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import speechtok
from speechtok import Tokens
from speechtok.cli import main
from speechtok.codec.config import load_run_config, run_config_from_dict
from speechtok.codec.model import Codec
from speechtok.data import shipped_clips
from speechtok.data.manifest import write_manifest
from speechtok.errors import AudioError, OutputError, SpeechtokWarning, TokensFileError, UsageError
from speechtok.tokens import MAGIC
from speechtok.train.loop import export_weights

REPO = Path(__file__).resolve().parent.parent
UNWRITABLE = "/sys/speechtok-test-out"  # not creatable, even by root: /sys is read-only
CLIP = next(Path(u.path) for u in shipped_clips() if u.id.startswith("it/"))  # 2.2 s


# ---- the world a user might have on disk ----------------------------------------------------------
def tiny_run(folder: Path, name: str, seed: int, codebooks=(6, 1024)) -> Path:
    """A loadable run folder (config.yaml + model.safetensors) with random weights, no training."""
    nq, size = codebooks
    cfg = run_config_from_dict({
        "name": name,
        "model": {"frame_rate": 50,
                  "encoder": {"dims": [8, 8, 8, 16], "strides": [2, 2, 2], "blocks_per_stage": 1, "latent_dim": 16},
                  "quantizer": {"kind": "rvq", "codebook_size": size, "num_quantizers": nq, "codebook_dim": 4},
                  "decoder": {"dim": 16, "intermediate_dim": 32, "num_blocks": 1}},
    })
    import torch

    torch.manual_seed(seed)
    export_weights(Codec(cfg.model), cfg, folder)
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Inputs good and bad, a user's own folders, runs, token files and a tokenized corpus: built
    once, copied for each test (every test gets its own world to damage)."""
    w = tmp_path_factory.mktemp("template")
    (w / "clips").mkdir()
    shutil.copy(CLIP, w / "clips" / "a.wav")
    shutil.copy(CLIP, w / "clips" / "b.wav")
    (w / "bad.wav").write_text("not audio\n")
    data = CLIP.read_bytes()
    (w / "trunc.wav").write_bytes(data[: len(data) // 2])  # header promises twice what is there
    write_manifest(w / "clips.jsonl", [{"id": "a", "path": "clips/a.wav"}])
    write_manifest(w / "mixed.jsonl", [{"id": "a", "path": "clips/a.wav"}, {"id": "bad", "path": "bad.wav"}])
    write_manifest(w / "onlybad.jsonl", [{"id": "bad", "path": "bad.wav"}])
    (w / "empty.jsonl").write_bytes(b"")
    (w / "blank.jsonl").write_text("\n\n")
    write_manifest(w / "up.jsonl", [{"id": "../../escaped", "path": "clips/a.wav"}])
    (w / "emptydir").mkdir()
    (w / "user").mkdir()
    (w / "user" / "README.md").write_text("my notes\n")
    (w / "user" / "index.json").write_text('{"mine": true}\n')
    (w / "cfgdir").mkdir()
    shutil.copy(REPO / "configs" / "base-50hz.yaml", w / "cfgdir" / "config.yaml")
    (w / "afile").write_text("a file, not a folder\n")
    (w / "dirs" / "x.wav").mkdir(parents=True)  # a folder named like audio
    tiny_run(w / "runA", "tiny", seed=0)
    tiny_run(w / "runB", "tiny", seed=1)  # same name, other weights
    tiny_run(w / "runBase", "speechtok-base", seed=2)  # an old run named like the shipped model
    wav, sr = sf.read(CLIP, dtype="float32")
    speechtok.load(w / "runA").encode(wav, sr).save(w / "a.stok")
    speechtok.load(w / "runBase").encode(wav, sr).save(w / "base.stok")
    speechtok.load("pcm16").encode(wav[:1600], sr).save(w / "pcm.stok")
    speechtok.load("pcm16").encode(wav[:1600], sr).save(w / "pcmdir" / "x.stok")
    assert main(["tokenize", "-t", "pcm16", "--data", str(w / "clips.jsonl"), "--out", str(w / "tok"),
                 "--workers", "0", "--no-progress"]) == 0
    (w / "benched").mkdir()
    (w / "benched" / ".speechtok.json").write_text('{"command": "bench"}\n')
    return w


@pytest.fixture
def world(template, tmp_path, monkeypatch):
    """A copy of the template, plus what cannot be copied (a FIFO, a symlink loop) and a manifest
    with an absolute id inside it; the working folder is the world."""
    w = tmp_path / "w"
    shutil.copytree(template, w, symlinks=True)
    write_manifest(w / "abs.jsonl", [{"id": str(w / "abs-escaped"), "path": "clips/a.wav"}])
    os.symlink("loop.wav", w / "loop.wav")  # a symlink to itself
    os.mkfifo(w / "fifo.wav")
    monkeypatch.chdir(w)  # restored after the test (later tests' relative paths must not land here)
    return w


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink() and not p.is_fifo():
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_cli(argv, capsys, root: Path, own: Path | None = None):
    """Run the CLI in process; assert no pre-existing file under ``root`` changed (except in
    ``own``, the command's own output folder when it resumes its own work)."""
    before = snapshot(root)
    if own is not None:
        before = {f: h for f, h in before.items() if not (root / f).is_relative_to(own)}
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    after = snapshot(root)
    changed = [f for f, h in before.items() if after.get(f) != h]
    assert not changed, f"pre-existing files changed or vanished: {changed}"
    assert "Traceback" not in err
    return rc, out, err


# ---- the catalogue: (argv, exit code, text of the one stderr line) --------------------------------
_TRAIN = ["train", "cfgdir/config.yaml", "--set", "data.train=clips.jsonl", "--out", "newrun"]
CLI_CASES = {
    # silent wrong output
    "decode run tokens with the shipped model of the same name": (
        ["decode", "base.stok", "-o", "o.wav"], 2, "but this speechtok-base is model"),
    "decode with another run of the same name": (
        ["decode", "a.stok", "-t", "runB", "-o", "o.wav"], 2, "decode them with the model that made them"),
    "decode a run's tokens without -t": (["decode", "a.stok", "-o", "o.wav"], 2, "decode -t RUN_FOLDER"),
    "train steps=-5": (_TRAIN[:-2] + ["--set", "train.steps=-5", "--out", "newrun"], 2, "train.steps: must be at least 1"),
    "train --steps 0": (_TRAIN + ["--steps", "0"], 2, "train.steps: must be at least 1"),
    "train batch size 0": (_TRAIN + ["--batch-size", "0"], 2, "train.batch_size: must be at least 1"),
    "train --workers 0": (_TRAIN + ["--workers", "0"], 2, "--workers must be at least 1"),
    "tokenize --shard-size 0": (["tokenize", "-t", "pcm16", "--data", "clips", "--out", "t", "--shard-size", "0"],
                                2, "argument --shard-size: must be at least 1, got 0"),
    "tokenize --workers -1": (["tokenize", "-t", "pcm16", "--data", "clips", "--out", "t", "--workers", "-1"],
                              2, "argument --workers: must be at least 0, got -1"),
    # user files
    "tokenize into a user's folder": (["tokenize", "-t", "pcm16", "--data", "clips", "--out", "user"], 2,
                                      "holds files not written by `speechtok tokenize` (README.md, index.json)"),
    "bench into a user's folder": (["bench", "-t", "pcm16", "--data", "clips", "--out", "user", "--metrics", "si_sdr"],
                                   2, "holds files not written by `speechtok bench`"),
    "train into the config's folder": (["train", "cfgdir/config.yaml", "--set", "data.train=clips.jsonl",
                                        "--out", "cfgdir"], 2, "holds files not written by `speechtok train`"),
    "demo into a user's folder": (["demo", "--compare", "--out", "user"], 2, "not written by `speechtok demo`"),
    "data asterisk into a user's folder": (["data", "asterisk", "--out", "user"], 2,
                                           "not written by `speechtok data asterisk`"),
    "tokenize into a bench folder": (["tokenize", "-t", "pcm16", "--data", "clips", "--out", "benched"], 2,
                                     "holds the output of `speechtok bench`"),
    # path escapes
    "encode an id with ..": (["encode", "up.jsonl", "-o", "out"], 2, "'../../escaped' would write outside out"),
    "encode an absolute id": (["encode", "abs.jsonl", "-o", "out"], 2, "would write outside out"),
    "detokenize an id with ..": (["detokenize", "tok", "--ids", "../x", "--out", "w"], 2, "would write outside w"),
    # unwritable or file --out
    **{f"{cmd} --out unwritable": (argv + [UNWRITABLE], 2, f"{UNWRITABLE}: cannot create folder") for cmd, argv in {
        "tokenize": ["tokenize", "-t", "pcm16", "--data", "clips", "--out"],
        "bench": ["bench", "-t", "pcm16", "--data", "clips", "--metrics", "si_sdr", "--out"],
        "detokenize": ["detokenize", "tok", "--ids", "a", "--out"],
        "train": ["train", "cfgdir/config.yaml", "--set", "data.train=clips.jsonl", "--out"],
        "demo": ["demo", "--compare", "--out"],
        "data asterisk": ["data", "asterisk", "--out"],
        "speed bench": ["bench", "--speed-only", "-t", "pcm16", "--seconds", "1", "--out"],
    }.items()},
    **{f"{cmd} --out a file": (argv + ["afile"], 2, "afile: exists and is not a folder") for cmd, argv in {
        "tokenize": ["tokenize", "-t", "pcm16", "--data", "clips", "--out"],
        "bench": ["bench", "-t", "pcm16", "--data", "clips", "--metrics", "si_sdr", "--out"],
        "detokenize": ["detokenize", "tok", "--ids", "a", "--out"],
        "train": ["train", "cfgdir/config.yaml", "--set", "data.train=clips.jsonl", "--out"],
        "demo": ["demo", "--compare", "--out"],
    }.items()},
    "encode a folder into a file": (["encode", "clips", "-o", "afile"], 2, "afile: exists and is not a folder"),
    "decode a folder into a file": (["decode", "pcmdir", "-o", "afile"], 2, "afile: exists and is not a folder"),
    "encode a folder into an unwritable folder": (["encode", "clips", "-o", UNWRITABLE, "-t", "pcm16"], 2,
                                                  f"{UNWRITABLE}: cannot create folder"),
    "info on a folder": (["info", "clips"], 2, "clips: is a folder, not a token file"),
    "decode into an unwritable folder": (["decode", "pcm.stok", "-o", "/sys/x.wav"], 2, "/sys/x.wav: cannot write"),
    # config values
    "train batch_size: sixteen": (_TRAIN + ["--set", "train.batch_size=sixteen"], 2,
                                  "train.batch_size: expected a whole number, got 'sixteen'"),
    "train num_quantizers=0": (_TRAIN + ["--set", "model.quantizer.num_quantizers=0"], 2,
                               "model.quantizer.num_quantizers: must be at least 1"),
    "train lr as text": (_TRAIN + ["--set", "train.lr=fast"], 2, "train.lr: expected a number"),
    "train an unknown precision": (_TRAIN + ["--precision", "foo"], 2, "train settings refused: Precision 'foo' is invalid"),
    "train an unknown accelerator": (_TRAIN + ["--accelerator", "foo"], 2, "invalid accelerator name"),
    "train an unknown key": (_TRAIN + ["--set", "train.stepz=3"], 2, "unknown key(s) ['stepz']"),
    "train an empty manifest": (_TRAIN[:3] + ["data.train=empty.jsonl", "--out", "newrun"], 2,
                                "empty.jsonl: manifest has no utterances"),
    "train a missing config": (["train", "nope.yaml"], 2, "nope.yaml: no such config file"),
    # exit codes
    "bench: the only input fails": (["bench", "-t", "pcm16", "--data", "onlybad.jsonl", "--out", "b1",
                                     "--metrics", "si_sdr", "--jobs", "1"], 2, "bad.wav: not a readable audio file"),
    "bench: one of two inputs fails": (["bench", "-t", "pcm16", "--data", "mixed.jsonl", "--out", "b2",
                                        "--metrics", "si_sdr", "--jobs", "1"], 1, "bad.wav: not a readable audio file"),
    "info on one foreign file": (["info", "bad.wav"], 2, "bad.wav: not a speechtok token file"),
    "info, one of two foreign": (["info", "pcm.stok", "bad.wav"], 1, "bad.wav: not a speechtok token file"),
    "encode a 0-byte manifest": (["encode", "empty.jsonl", "-o", "out"], 2, "empty.jsonl: manifest has no utterances"),
    "encode a blank manifest": (["encode", "blank.jsonl", "-o", "out"], 2, "blank.jsonl: manifest has no utterances"),
    "encode an empty folder": (["encode", "emptydir", "-o", "out"], 2, "emptydir: folder has no audio files"),
    "tokenize a 0-byte manifest": (["tokenize", "-t", "pcm16", "--data", "empty.jsonl", "--out", "t"], 2,
                                   "manifest has no utterances"),
    "bench a 0-byte manifest": (["bench", "-t", "pcm16", "--data", "empty.jsonl", "--out", "b", "--metrics", "si_sdr"],
                                2, "manifest has no utterances"),
    # odd files
    "encode a symlink loop": (["encode", "loop.wav", "-o", "out"], 2, "loop.wav: no such file or folder"),
    "encode a FIFO": (["encode", "fifo.wav", "-o", "out"], 2, "fifo.wav: empty file (0 bytes)"),
    "encode a folder named x.wav (no audio in it)": (["encode", "dirs", "-o", "out"], 2, "folder has no audio files"),
    "decode a folder named x.wav": (["decode", "dirs/x.wav", "-o", "out"], 2, "folder has no .stok token files"),
    "decode -t an unknown tokenizer": (["decode", "pcm.stok", "-t", "nope", "-o", "o.wav"], 2, "unknown tokenizer 'nope'"),
}


@pytest.fixture
def prepared(world, capsys):
    capsys.readouterr()
    return world


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_cli_catalogue(case, prepared, capsys):
    argv, code, text = CLI_CASES[case]
    rc, _, err = run_cli(argv, capsys, prepared)
    assert rc == code, err
    lines = [line for line in err.splitlines() if text in line]
    assert len(lines) == 1, err  # one line, naming the file or the setting
    for line in lines:
        assert line.startswith("speechtok "), line
    assert not (prepared / "escaped").exists() and not (prepared.parent / "escaped.stok").exists()
    assert not (prepared / "abs-escaped.stok").exists()
    if "train" in argv[:1]:
        assert not (prepared / "newrun").exists()  # refused before anything was made


# ---- model identity ---------------------------------------------------------------------------------
def test_tokens_carry_the_model_id_and_decode_with_the_run(prepared, capsys):
    a = speechtok.load("runA")
    tokens = Tokens.load(prepared / "a.stok")
    assert tokens.model_id == a.model_id and len(a.model_id) == 12
    assert speechtok.load("runB").model_id != a.model_id
    assert speechtok.load("opus@6kbps").model_id is None  # no trained weights, no id
    rc, _, err = run_cli(["decode", "a.stok", "-t", "runA", "-o", "ok.wav"], capsys, prepared)
    assert rc == 0 and sf.info(prepared / "ok.wav").duration == pytest.approx(sf.info(CLIP).duration, abs=1e-3)
    rc, out, _ = run_cli(["info", "--json", "a.stok"], capsys, prepared)
    assert json.loads(out)["model_id"] == a.model_id
    with pytest.raises(TokensFileError, match="made by tiny model"):
        speechtok.load("runB").decode(tokens)


def test_a_version_1_file_still_decodes_with_a_warning(prepared, capsys):
    """Files written before model ids (format version 1) stay readable; decode says it cannot check."""
    t = Tokens.load(prepared / "a.stok")
    head = {k: v for k, v in t.header().items() if k != "model_id"}
    codes = np.ascontiguousarray(t.codes.astype("<u2"))
    h = json.dumps(head | {"dtype": "uint16", "shape": list(codes.shape)}).encode()
    body = h + codes.tobytes()
    import zlib

    (prepared / "v1.stok").write_bytes(MAGIC + struct.pack("<HI", 1, len(h)) + body + struct.pack("<I", zlib.crc32(body)))
    old = Tokens.load(prepared / "v1.stok")
    assert old.model_id is None and np.array_equal(old.codes, t.codes)
    rc, _, err = run_cli(["decode", "v1.stok", "-t", "runA", "-o", "v1.wav"], capsys, prepared)
    assert rc == 0 and (prepared / "v1.wav").is_file()
    warn = [line for line in err.splitlines() if "warning" in line]
    assert len(warn) == 1 and "v1.stok" in warn[0] and "carry no model id" in warn[0]


def test_a_run_is_never_named_like_a_shipped_model(tmp_path):
    from speechtok.cli.train_cmd import run_name

    assert load_run_config(REPO / "configs" / "base-50hz.yaml").name == "speechtok-base"
    assert run_name("speechtok-base", tmp_path / "base-50hz") == "base-50hz"
    assert run_name("speechtok-base", tmp_path / "speechtok-base") == "speechtok-base-speechtok-base"
    assert run_name("my-codec", tmp_path / "whatever") == "my-codec"


# ---- API ----------------------------------------------------------------------------------------
def test_channels_are_never_guessed():
    tok = speechtok.load("pcm16")
    x = (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32)
    for many in (np.stack([x] * 12, 1), np.stack([x] * 12, 0)):  # (samples, 12) and (12, samples)
        t = tok.encode(many, 16000)
        assert t.num_samples == 16000 and t.num_frames == tok.encode(x, 16000).num_frames
    for shape in ((100, 80), (300, 300), (16000, 2000)):
        with pytest.raises(AudioError, match=r"ambiguous audio shape .*axis 0 .*axis 1"):
            tok.encode(np.zeros(shape, np.float32), 16000)


def test_api_misuse_is_a_clear_error(tmp_path):
    tok = speechtok.load("pcm16")
    x = np.zeros(1600, np.float32)
    with pytest.raises(AudioError, match="sample rate is required"):
        tok.encode(x, None)
    with pytest.raises(UsageError, match="decode takes a Tokens value .* not ndarray"):
        tok.decode(tok.encode(x, 16000).codes)
    with pytest.raises(TypeError):  # UsageError is a TypeError too
        tok.decode([[1, 2]])
    with pytest.raises(OutputError, match="/sys/x.stok: cannot write"):
        tok.encode(x, 16000).save("/sys/x.stok")


def test_truncated_wav_warns_naming_the_file(world, capsys):
    with pytest.warns(SpeechtokWarning, match=r"trunc.wav: truncated WAV: the header promises 2\.20 s"):
        wav, sr = speechtok.audio.load_audio(world / "trunc.wav")
    assert len(wav) / sr == pytest.approx(1.1, abs=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a whole file warns nothing
        speechtok.audio.load_audio(world / "clips" / "a.wav")
    rc, _, err = run_cli(["encode", "trunc.wav", "-o", "t.stok"], capsys, world)
    assert rc == 0
    lines = [line for line in err.splitlines() if "truncated" in line]
    assert len(lines) == 1 and lines[0].startswith("speechtok encode: warning: ") and "trunc.wav" in lines[0]


def test_truncated_wav_in_a_tokenize_worker_is_one_line_too(world):
    (world / "tin").mkdir()
    shutil.copy(world / "trunc.wav", world / "tin" / "trunc.wav")
    shutil.copy(world / "clips" / "a.wav", world / "tin" / "a.wav")
    # a fresh process: its forkserver workers write to this command's stderr (in-process, a
    # forkserver started by an earlier test keeps the stderr that test had)
    proc = subprocess.run([sys.executable, "-m", "speechtok", "tokenize", "-t", "pcm16", "--data", "tin", "--out", "tt",
                           "--workers", "1", "--no-progress"], cwd=world, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr  # the worker process's stderr too
    lines = [line for line in err.splitlines() if "truncated" in line]
    assert len(lines) == 1 and lines[0].startswith("speechtok tokenize: warning: ") and "trunc.wav" in lines[0]
    assert "Traceback" not in err and "warnings.warn" not in err


# ---- user files and side effects -----------------------------------------------------------------
def test_detokenize_skips_existing_wavs_like_decode(prepared, capsys):
    (prepared / "w").mkdir()
    (prepared / "w" / "a.wav").write_text("the user's own a.wav\n")
    rc, _, err = run_cli(["detokenize", "tok", "--ids", "a", "--out", "w"], capsys, prepared)
    assert rc == 0 and "1 skipped" in err
    rc = main(["detokenize", "tok", "--ids", "a", "--out", "w", "--overwrite"])
    assert rc == 0 and sf.info(prepared / "w" / "a.wav").frames > 0


def test_tokenize_stores_a_run_path_that_resolves_from_anywhere(prepared, capsys, monkeypatch):
    assert main(["tokenize", "-t", "./runA", "--data", "clips.jsonl", "--out", "tokA", "--no-progress"]) == 0
    plan = json.loads((prepared / "tokA" / "plan.json").read_text())
    assert plan["tokenizer_spec"] == str(prepared / "runA") and plan["model_id"] == speechtok.load("runA").model_id
    elsewhere = prepared / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["detokenize", str(prepared / "tokA"), "--ids", "a", "--out", "w"]) == 0
    assert (elsewhere / "w" / "a.wav").is_file()
    # a rerun of the finished job in its own folder is still welcome
    monkeypatch.chdir(prepared)
    assert main(["tokenize", "-t", "./runA", "--data", "clips.jsonl", "--out", "tokA", "--no-progress"]) == 0


def test_weights_and_outputs_are_written_with_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        run = tiny_run(tmp_path / "run", "tiny", seed=0)
        speechtok.load("pcm16").encode(np.zeros(1600, np.float32), 16000).save(tmp_path / "x.stok")
    finally:
        os.umask(old)
    for f in (run / "model.safetensors", run / "config.yaml", tmp_path / "x.stok"):
        assert f.stat().st_mode & 0o777 == 0o644, f


def test_probe_cache_goes_to_the_cache_folder(tmp_path, monkeypatch):
    from speechtok.data import clips_manifest_path
    from speechtok.eval.phonetic import default_alignment_cache

    monkeypatch.setenv("SPEECHTOK_CACHE", str(tmp_path / "cache"))
    assets = clips_manifest_path().parent
    before = snapshot(assets)
    cache = default_alignment_cache(str(clips_manifest_path()))
    assert tmp_path / "cache" in cache.parents and assets not in cache.parents
    assert snapshot(assets) == before
    monkeypatch.delenv("SPEECHTOK_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert tmp_path / "xdg" / "speechtok" in default_alignment_cache(str(clips_manifest_path())).parents
    # an old cache beside the data seeds the new one and is only read
    (tmp_path / "d" / "alignments").mkdir(parents=True)
    (tmp_path / "d" / "alignments" / "en.jsonl").write_text('{"id": "x"}\n')
    seeded = default_alignment_cache(str(tmp_path / "d" / "m.jsonl"))
    assert seeded.read_text() == '{"id": "x"}\n'


# ---- process-level: pipes, missing extras, Ctrl-C ---------------------------------------------------
def _cli_subprocess(args, stdout) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "speechtok", *args], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, env=env, timeout=120)


@pytest.mark.parametrize("args", [["list"], ["info", "--json", "{tok}"]])
def test_closed_pipe_is_not_a_traceback(args, tmp_path):
    """`speechtok list | head`: the reader is gone before we write. Exit 141, nothing on stderr."""
    speechtok.load("pcm16").encode(np.zeros(1600, np.float32), 16000).save(tmp_path / "x.stok")
    r, w = os.pipe()
    os.close(r)  # the reader has already gone
    try:
        p = _cli_subprocess([a.format(tok=tmp_path / "x.stok") for a in args], stdout=w)
    finally:
        os.close(w)
    assert p.returncode == 141 and "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr


def test_bench_without_its_extra_stops_before_any_work(world, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if the bench extra were not installed
    rc, _, err = run_cli(["bench", "-t", "pcm16", "--data", "clips", "--out", "b", "--metrics", "si_sdr"], capsys, world)
    assert rc == 2 and "matplotlib (report plots)" in err and "pip install 'speechtok[bench]'" in err
    assert not (world / "b").exists()


def test_tokenize_on_ray_without_ray_stops_before_any_work(world, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    rc, _, err = run_cli(["tokenize", "-t", "pcm16", "--data", "clips", "--out", "t", "--backend", "ray"], capsys, world)
    assert rc == 2 and "pip install 'speechtok[ray]'" in err and not (world / "t").exists()


@pytest.mark.parametrize("command", ["encode", "decode", "detokenize", "bench", "tokenize"])
def test_ctrl_c_then_rerun_finishes_the_work(command, prepared, capsys, monkeypatch):
    """Ctrl-C in the middle of a long command: exit 130, no half-written file; the same command run
    again completes the work."""
    from speechtok.tokenizers.pcm import PCM16Tokenizer as PCMTokenizer

    w = prepared
    assert main(["encode", "clips", "-o", "pcmtok", "-t", "pcm16"]) == 0
    argv = {
        "encode": ["encode", "clips", "-o", "e", "-t", "pcm16"],
        "decode": ["decode", "pcmtok", "-o", "d"],
        "detokenize": ["detokenize", "tok", "--ids", "a", "--out", "dt"],
        "bench": ["bench", "-t", "pcm16", "--data", "clips", "--out", "bb", "--metrics", "si_sdr", "--jobs", "1"],
        "tokenize": ["tokenize", "-t", "pcm16", "--data", "clips", "--out", "tk", "--workers", "0",
                     "--shard-size", "1", "--no-progress"],
    }[command]
    out = w / argv[argv.index("--out" if "--out" in argv else "-o") + 1]
    calls = {"n": 0}
    method = "_encode" if command in ("encode", "bench", "tokenize") else "_decode"
    real = getattr(PCMTokenizer, method)

    def interrupted(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2 if command != "detokenize" else calls["n"] == 1:
            raise KeyboardInterrupt
        return real(self, *a, **k)

    monkeypatch.setattr(PCMTokenizer, method, interrupted)
    capsys.readouterr()
    rc, _, err = run_cli(argv, capsys, w)
    assert rc == 130 and "interrupted" in err
    assert not [p for p in out.rglob(".*.tmp*")] if out.exists() else True
    monkeypatch.setattr(PCMTokenizer, method, real)
    rc, _, err = run_cli(argv, capsys, w, own=out)  # resuming: only its own folder may change
    assert rc == 0, err
    expected = {"encode": ["a.stok", "b.stok"], "decode": ["a.wav", "b.wav"], "detokenize": ["a.wav"],
                "bench": ["rows.jsonl", "summary.md"], "tokenize": ["index.json", "data/train-00001-of-00002.parquet"],
                }[command]
    for name in expected:
        assert (out / name).is_file(), name
