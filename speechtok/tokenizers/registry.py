"""Names -> tokenizers. ``speechtok.load("opus@6kbps")``, ``load("./my-run/")``, ...

Each family registers a *resolver*: a function that takes a name and returns a Tokenizer, or
None when the name is not one of its own. ``available()`` lists the names each family offers.
Families import lazily so that ``import speechtok`` stays fast and optional packages stay optional.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from ..errors import UnknownTokenizerError
from .base import Tokenizer

# module -> its resolver attribute; each module also has names(). Imported on first use.
_FAMILIES: dict[str, str] = {
    "speechtok.tokenizers.pcm": "resolve",
    "speechtok.tokenizers.opus": "resolve",
    "speechtok.tokenizers.codec2": "resolve",
    "speechtok.codec.catalogue": "resolve",  # our shipped models; names and facts without torch
    "speechtok.semantic.mfcc_kmeans": "resolve",
    "speechtok.tokenizers.external": "resolve",
}
_EXTRA: list[tuple[Callable[[str], Tokenizer | None], Callable[[], list[str]]]] = []


def register(resolver: Callable[[str], Tokenizer | None], names: Callable[[], list[str]]) -> None:
    """Add a tokenizer family at run time (for plug-ins and tests)."""
    _EXTRA.append((resolver, names))


def _families():
    for module_name, attr in _FAMILIES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:  # that family is not part of this build
                continue
            raise
        yield getattr(module, attr), getattr(module, "names")
    yield from _EXTRA


def available() -> list[str]:
    """Every registered tokenizer name (parameterised families list their usual settings)."""
    out: list[str] = []
    for _, names in _families():
        out.extend(names())
    return out


def describe(name: str) -> dict:
    """What `speechtok list` shows of a registered name: ``name, sample_rate, frame_rate,
    codebook_sizes`` (and ``bitrate`` where it is not frame rate × Σ log2 sizes), from the family's ``describe`` (no model loaded) where it has one, else
    from the loaded tokenizer. Raises what ``load`` raises."""
    for module_name in _FAMILIES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        facts = getattr(module, "describe", lambda _: None)(name)
        if facts:
            return {"name": name, **facts}
    tok = load(name)
    return {"name": tok.name, "sample_rate": tok.sample_rate, "frame_rate": tok.frame_rate,
            "codebook_sizes": list(tok.codebook_sizes), "bitrate": tok.bitrate}


def load(name_or_path: str | Path) -> Tokenizer:
    """A tokenizer by registered name, or from a training run folder / checkpoint path
    (``RUN_FOLDER@1.45kbps`` picks a lower bitrate of a run, like a shipped model's name)."""
    key = str(name_or_path)
    path = Path(key).expanduser()
    if path.exists() and (path.is_dir() or path.suffix in (".yaml", ".yml", ".safetensors")):
        from ..codec.pretrained import load_run

        return load_run(path)
    base, _, rate = key.rpartition("@")
    if base and rate.endswith("kbps") and Path(base).expanduser().is_dir():
        from ..codec.pretrained import load_run_at

        return load_run_at(Path(base).expanduser(), rate)
    for resolve, _ in _families():
        tok = resolve(key)
        if tok is not None:
            return tok
    close = [n for n in available() if key.split("@")[0] in n][:8]
    hint = f" Did you mean one of: {', '.join(close)}?" if close else ""
    raise UnknownTokenizerError(
        f"unknown tokenizer {key!r}.{hint} `speechtok list` shows them all; a path must be an existing run folder."
    )
