"""The import structure of ``speechtok/``: layers that import only downward, and no circle.

Every import is read with ``ast`` (at the top of a file and inside functions alike, since a
deferred import is the same dependency, only paid later), resolved to the module it names, and
checked against ``LAYERS``: a module may import its own layer or any layer below, never one
above, and no chain of imports may lead from a module back to itself. A new module must be
placed in the table (its longest matching prefix decides). docs/architecture.md draws it.

The top layer, ``compat``, holds the modules kept at old import paths after their code moved
(``speechtok.semantic.*``, ``codec.semantic``, ``codec.sourcefilter.semantic``): each only
re-exports its new home, which may sit in any layer (data, models, measures, families, apps).
Putting each shim in its target's layer would let speechtok's own code keep importing the old
paths unnoticed; at the top, any import of a shim from inside speechtok is an upward import and
fails here, so the shims stay for outside users only, and they can import whatever they re-export.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "speechtok"

#: bottom first; a module's layer is that of the longest prefix listed for it
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("speechtok.errors", "speechtok.version", "speechtok.fsutil", "speechtok.defaults",
                    "speechtok.dsp", "speechtok.nn", "speechtok.quantizers", "speechtok.audio", "speechtok.tokens")),
    ("data", ("speechtok.data", "speechtok.syllables", "speechtok.syllables.segment", "speechtok.syllables.syllabify",
              "speechtok.syllables.codes")),
    ("config", ("speechtok.runs", "speechtok.codec.config", "speechtok.codec.sourcefilter.config",
                "speechtok.lm.config")),
    ("interface", ("speechtok.tokenizers.base",)),
    ("models", ("speechtok.codec", "speechtok.codec.sourcefilter", "speechtok.teachers")),
    ("measures", ("speechtok.eval.metrics", "speechtok.eval_light")),
    ("families", ("speechtok.tokenizers.pcm", "speechtok.tokenizers.opus", "speechtok.tokenizers.codec2",
                  "speechtok.tokenizers._clib", "speechtok.tokenizers.external", "speechtok.codec.pretrained",
                  "speechtok.codec.catalogue", "speechtok.codec.sourcefilter.tokenizer", "speechtok.codec.sourcefilter.dual",
                  "speechtok.tokenizers.mfcc_kmeans", "speechtok.tokenizers.feature_vq", "speechtok.syllables.tokenizer", "speechtok.syllables.phone_units", "speechtok.syllables.hf_phone_units",
                  "speechtok.syllables.decoder")),
    ("registry", ("speechtok.tokenizers", "speechtok.tokenizers.registry", "speechtok.__init__")),
    ("training", ("speechtok.train", "speechtok.codec.sourcefilter.train", "speechtok.codec.sourcefilter.adapt",
                  "speechtok.codec.sourcefilter.phonetic_stage", "speechtok.codec.sourcefilter.augment")),
    ("apps", ("speechtok.eval", "speechtok.corpus", "speechtok.lm", "speechtok.tts", "speechtok.syllables.evaluate",
              "speechtok.syllables.__main__", "speechtok.syllables.train_decoder",
              # data builders that run a teacher and espeak-ng (the LM bench's synthesis helpers)
              "speechtok.data.teacher_align", "speechtok.data.espeak_words")),
    ("serve", ("speechtok.serve",)),
    ("cli", ("speechtok.cli", "speechtok.__main__")),
    # old import paths, each re-exporting a module that moved (see the module doc)
    ("compat", ("speechtok.semantic", "speechtok.codec.semantic", "speechtok.codec.sourcefilter.semantic")),
]
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}

#: circles known and not yet untied, each with where it is tracked; a new circle fails the test,
#: and an entry whose modules exist but no longer form a circle must be deleted
KNOWN_CIRCLES: dict[frozenset[str], str] = {}


def _modules() -> dict[str, tuple[Path, bool]]:
    """dotted name -> (file, is a package ``__init__``); the root package is ``speechtok.__init__``
    (the public door: importing ``speechtok.x.y`` runs it, but nothing below may import it)."""
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__" and len(parts) > 2
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts)] = (p, is_pkg)
    return out


MODULES = _modules()


def _target(name: str) -> str | None:
    """The module file an imported dotted name lands in (``speechtok`` itself: ``speechtok.__init__``)."""
    if name == "speechtok":
        return "speechtok.__init__"
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in MODULES else None


def imports_of(module: str) -> dict[str, int]:
    """Every speechtok module ``module`` imports, anywhere in its file -> the first line."""
    path, is_pkg = MODULES[module]
    here = module.split(".")
    if module == "speechtok.__init__":
        here, is_pkg = ["speechtok"], True
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_pkg else here[:-1]
                base = base[: len(base) - (node.level - 1)]
                pkg = ".".join(base + ([node.module] if node.module else []))
            else:
                pkg = node.module or ""
            # ``from pkg import name``: the submodule pkg.name when there is one, else pkg itself
            names = [f"{pkg}.{a.name}" if f"{pkg}.{a.name}" in MODULES else pkg for a in node.names]
        for name in names:
            if name == "speechtok" or name.startswith("speechtok."):
                t = _target(name)
                if t and t != module:
                    out.setdefault(t, node.lineno)
    return out


def layer_of(module: str) -> str | None:
    best, layer = -1, None
    for name, prefixes in LAYERS:
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, layer = len(p), name
    return layer


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer():
    assert [m for m in MODULES if layer_of(m) is None] == []


def test_imports_point_down():
    up = [f"{m} ({layer_of(m)}) imports {t} ({layer_of(t)}) at {MODULES[m][0].relative_to(ROOT.parent)}:{line}"
          for m, deps in GRAPH.items() for t, line in deps.items() if RANK[layer_of(t)] > RANK[layer_of(m)]]
    assert up == [], "imports from a lower layer to a higher one:\n" + "\n".join(up)


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], 0
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(GRAPH[root]))]
        index[root] = low[root] = n
        n += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = n
                    n += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(GRAPH[w])))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_circle():
    assert [c for c in _cycles() if frozenset(c) not in KNOWN_CIRCLES] == []


def test_known_circles_are_still_circles():
    """Untying a listed circle must also delete its entry, so the list never hides a new one."""
    found = {frozenset(c) for c in _cycles()}
    stale = [sorted(c) for c in KNOWN_CIRCLES if all(m in MODULES for m in c) and c not in found]
    assert stale == []


def test_the_checker_sees_deferred_and_relative_imports(tmp_path):
    """The walk must not miss an import hidden in a function, nor misplace a relative one."""
    deps = GRAPH["speechtok.codec.pretrained"]
    assert "speechtok.codec.sourcefilter.tokenizer" in deps  # imported inside functions only
    assert "speechtok.runs" in deps  # ``from ..runs import``
    assert "speechtok.__init__" in GRAPH["speechtok.corpus.job"]  # ``import speechtok`` in a function


@pytest.mark.parametrize("module", ["speechtok.tokenizers.registry", "speechtok.codec.sourcefilter.tokenizer"])
def test_a_circle_would_be_found(module, monkeypatch):
    """Sanity of the detector: one added back-edge makes a circle it reports."""
    back = next(iter(GRAPH[module]))
    monkeypatch.setitem(GRAPH, back, {**GRAPH[back], module: 1})
    assert any(module in c and back in c for c in _cycles())
