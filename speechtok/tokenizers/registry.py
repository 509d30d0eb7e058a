"""Names -> tokenizers. ``speechtok.load("opus@6kbps")``, ``load("./my-run/")``, ...

A tokenizer *family* is a module (or any object) with two functions and an optional third:

``resolve(name) -> Tokenizer | None``
    the tokenizer for ``name``, or None when the name is not one of the family's own;
``names() -> list[str]``
    the names ``available()`` and ``speechtok list`` show (parameterised families list their
    usual settings);
``describe(name) -> dict | None`` (optional)
    ``{sample_rate, frame_rate, codebook_sizes}`` (and ``bitrate`` where it is not frame rate ×
    Σ log2 sizes) without loading a model, so ``speechtok list`` answers at once.

The families shipped with speechtok are listed in ``_FAMILIES``; a package outside speechtok adds
one through the entry point group ``speechtok.tokenizers`` (docs/plugins.md), and a running
program through ``register``. Families import lazily and in that order (built-in first, then
entry points, then ``register``ed), so that ``import speechtok`` stays fast, optional packages stay
optional, and loading a built-in name never imports a plug-in.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterator

from ..errors import SpeechtokWarning, UnknownTokenizerError
from .base import Tokenizer

#: the entry point group a package declares its tokenizer family in
ENTRY_POINT_GROUP = "speechtok.tokenizers"

# module of each built-in family (each has resolve() and names(), some describe()); imported on first use
_FAMILIES: tuple[str, ...] = (
    "speechtok.tokenizers.pcm",
    "speechtok.tokenizers.opus",
    "speechtok.tokenizers.codec2",
    "speechtok.codec.catalogue",  # our shipped models; names and facts without torch
    "speechtok.tokenizers.mfcc_kmeans",
    "speechtok.tokenizers.feature_vq",
    "speechtok.codec.sourcefilter.dual",
    "speechtok.syllables.tokenizer",
    "speechtok.syllables.phone_units",
    "speechtok.syllables.hf_phone_units",  # phone-units:hf:<model>
    "speechtok.tokenizers.external",
)
_EXTRA: list = []  # families added with register()
_PLUGINS: list | None = None  # entry point families, loaded on first need


def register(resolver: Callable[[str], Tokenizer | None], names: Callable[[], list[str]],
             describe: Callable[[str], dict | None] | None = None) -> None:
    """Add a tokenizer family at run time (tests, notebooks; a package uses the entry point)."""
    _EXTRA.append(SimpleNamespace(resolve=resolver, names=names, describe=describe))


def _builtin() -> Iterator:
    for module_name in _FAMILIES:
        try:
            yield importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:  # a family that is not part of this build is skipped
                raise


def _declared_anywhere() -> bool:
    """Whether any distribution on ``sys.path`` names the group in its ``entry_points.txt``: a
    scan of a few dozen small files, so that with no plug-in installed (the usual case) the
    registry skips ``importlib.metadata``'s parse of every installed package."""
    marker = f"[{ENTRY_POINT_GROUP}]"
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for d in names:
            if d.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(folder, d, "entry_points.txt"), encoding="utf-8") as f:
                        if marker in f.read():
                            return True
                except (OSError, UnicodeDecodeError):
                    continue
    return False


def _plugins() -> list:
    """The families that installed packages declare in the ``speechtok.tokenizers`` entry point
    group, loaded once. A plug-in that fails to load is left out with a warning naming it: it
    must not take the built-in tokenizers down with it."""
    global _PLUGINS
    if _PLUGINS is None and not _declared_anywhere():
        _PLUGINS = []
    if _PLUGINS is None:
        from importlib.metadata import entry_points

        found = []
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            try:
                family = ep.load()
                if not (callable(getattr(family, "resolve", None)) and callable(getattr(family, "names", None))):
                    raise TypeError("a tokenizer family needs resolve(name) and names()")
            except Exception as e:
                warnings.warn(f"tokenizer plug-in {ep.name} ({ep.value}) is left out: {type(e).__name__}: {e}",
                              SpeechtokWarning, stacklevel=3)
                continue
            found.append(family)
        _PLUGINS = found
    return _PLUGINS


def _families(plugins: bool = True) -> Iterator:
    yield from _builtin()
    if plugins:
        yield from _plugins()
    yield from _EXTRA


def available() -> list[str]:
    """Every registered tokenizer name (parameterised families list their usual settings)."""
    out: list[str] = []
    for family in _families():
        out.extend(family.names())
    return out


def describe(name: str) -> dict:
    """What `speechtok list` shows of a registered name: ``name, sample_rate, frame_rate,
    codebook_sizes`` (and ``bitrate`` where it is not frame rate × Σ log2 sizes), from the
    family's ``describe`` (no model loaded) where it has one, else from the loaded tokenizer.
    Raises what ``load`` raises."""
    for family in _families():
        facts = (getattr(family, "describe", None) or (lambda _: None))(name)
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
    for family in _families():
        tok = family.resolve(key)
        if tok is not None:
            return tok
    close = [n for n in available() if key.split("@")[0] in n][:8]
    hint = f" Did you mean one of: {', '.join(close)}?" if close else ""
    raise UnknownTokenizerError(
        f"unknown tokenizer {key!r}.{hint} `speechtok list` shows them all; a path must be an existing run folder."
    )
