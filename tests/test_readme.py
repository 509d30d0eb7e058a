"""The README's command lines, as a newcomer types them (issue 20): every `speechtok` line of its
bash blocks parses, and the cheap ones run as written, in order, from a folder laid out like a
fresh clone, with the four shipped clips standing in for the corpus. Lines that take minutes to
hours (building the corpus, training our codec, bench, probe, lm bench) and the servers are only
parsed; a small random-weight run stands in for the codec `speechtok train` makes, and the LM
lines train for 2 steps. The Python example runs too, and prints what its comments say."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from speechtok.cli import build_parser, main
from speechtok.data import shipped_clips
from speechtok.data.manifest import write_manifest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
# (command, sub-command) -> why it is only parsed
PARSE_ONLY = {("data", "asterisk"): "needs Debian's Asterisk packages; minutes",
              ("data", "speech"): "downloads Debian packages, synthesizes 2900 sentences; 25 minutes", ("train", None): "40 minutes",
              ("bench", None): "minutes", ("probe", None): "minutes", ("serve", None): "a server",
              ("demo", None): "a server", ("lm", "bench"): "an hour", ("tts", "train"): "an hour",
              ("tts", "bench"): "minutes"}
# what a line gets appended so that it runs in seconds (the budget only)
SHORTER = {("lm", "train"): ["--steps", "2", "--no-progress"], ("lm", "mtp"): ["--steps", "2", "--distill", "2", "--no-progress"]}


def readme_commands() -> list[list[str]]:
    """Every `speechtok ...` command of the README's bash blocks, comments and [optional parts]
    removed, `a && b` split, as argv lists (without the leading `speechtok`)."""
    out = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line)
            for part in line.split("&&"):
                part = re.sub(r"\s*\[[^\]]*\]", "", part).strip()
                if part.startswith("speechtok "):
                    out.append(shlex.split(part)[1:])
    return out


def key(argv: list[str]) -> tuple[str, str | None]:
    return argv[0], (argv[1] if argv[0] in ("lm", "data", "tts") else None)


def test_every_readme_command_parses():
    commands = readme_commands()
    assert len(commands) >= 15
    parser = build_parser()
    for argv in commands:
        assert "..." not in argv, argv
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"README: `speechtok {shlex.join(argv)}` does not parse")


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A folder laid out like a fresh clone (speechtok/, configs/ linked), with manifests of the
    shipped clips where `speechtok data asterisk` would write the corpus's."""
    w = tmp_path_factory.mktemp("clone")
    for name in ("speechtok", "configs"):
        os.symlink(REPO / name, w / name)
    clips = [{"id": u.id, "path": str(u.path)} for u in shipped_clips()]
    train = [dict(c, id="en/added") if c["id"].startswith("en/") else c for c in clips]  # an id the README names
    for split, rows in (("train", train), ("valid", clips), ("test", clips)):
        write_manifest(w / "data" / "asterisk" / f"{split}.jsonl", rows)
    return w


def test_readme_commands_run_as_written(clone, monkeypatch, capsys):
    from test_hardening import tiny_run

    monkeypatch.chdir(clone)
    ran = []
    for argv in readme_commands():
        k = key(argv)
        if k in PARSE_ONLY:
            if k == ("train", None):  # what the 40-minute training would leave: a loadable run folder
                tiny_run(clone / "runs" / Path(argv[1]).stem, Path(argv[1]).stem, seed=0)
            continue
        rc = main(argv + SHORTER.get(k, []))
        err = capsys.readouterr().err
        assert rc == 0, f"README: `speechtok {shlex.join(argv)}` exit {rc}: {err}"
        assert "Traceback" not in err
        ran.append(k)
    assert {("encode", None), ("decode", None), ("info", None), ("list", None), ("tokenize", None),
            ("detokenize", None), ("lm", "train"), ("lm", "mtp"), ("lm", "sample"), ("tts", "say")} <= set(ran)
    assert sf.info(clone / "hello.wav").duration > 1.5
    assert (clone / "wavs" / "en" / "added.wav").is_file() and sf.info(clone / "greedy.wav").duration > 2.9
    assert (clone / "wavs-mine" / "en_privacy-prompt.wav").is_file()


def test_readme_python_example_prints_what_it_says(clone):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)[1]
    said = [line.split("#", 1)[1].strip() for line in block.splitlines() if line.startswith("print(")]
    p = subprocess.run([sys.executable, "-c", block], cwd=clone, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == said
