"""Optional packages for metrics, imported on first use with an install hint when missing."""

from __future__ import annotations

import importlib

from ...errors import MissingDependencyError


def require(module: str, package: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"this metric needs the {package!r} package: pip install 'speechtok[bench]' ({e})"
        ) from None
