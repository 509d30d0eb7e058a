"""Loading the system C libraries the classic codecs bind to with ctypes (libopus, libcodec2)."""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Sequence

from ..errors import MissingDependencyError


def load_library(sonames: Sequence[str], short_name: str, apt_package: str) -> ctypes.CDLL:
    """The first of ``sonames`` that loads, else whatever ``find_library(short_name)`` finds.

    Raises MissingDependencyError naming the apt-get command when none is there.
    """
    candidates = list(sonames)
    found = ctypes.util.find_library(short_name)
    if found and found not in candidates:
        candidates.append(found)
    for soname in candidates:
        try:
            return ctypes.CDLL(soname)
        except OSError:
            continue
    raise MissingDependencyError(
        f"the {short_name} shared library is not installed (tried {', '.join(candidates)}); "
        f"install it with: sudo apt-get install {apt_package}"
    )
