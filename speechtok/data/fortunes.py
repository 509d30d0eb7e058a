"""Texts of the Debian `fortunes` package (``apt-get install fortunes``): the reading material of
the LM bench's synthetic speech (``lm.synthetic``) and of the labelled flite set (``flite_labels``)."""

from __future__ import annotations

import re
from pathlib import Path

FORTUNE_DIR = Path("/usr/share/games/fortunes")


def read_fortunes(folder: Path = FORTUNE_DIR, max_chars: int = 240) -> list[str]:
    """Every fortune of the Debian `fortunes` package as one line of plain text (sorted, unique),
    keeping those of at most ``max_chars`` characters with letters only from ASCII."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no fortunes (apt-get install fortunes)")
    out = set()
    for f in sorted(folder.iterdir()):
        if f.suffix or not f.is_file():  # skip .dat / .u8 indexes and links
            continue
        for chunk in f.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            text = re.sub(r"\s+", " ", chunk.replace("%", "")).strip()
            if 20 <= len(text) <= max_chars and text.isascii() and text.isprintable() and re.search(r"[a-zA-Z]{3}", text):
                out.add(text)
    return sorted(out)
