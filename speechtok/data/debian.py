"""Files of Debian packages without installing them: ``apt-get download`` + ``dpkg -x`` into a cache.

Some voice packages conflict with each other (``asterisk-prompt-es-co`` and
``asterisk-core-sounds-es`` both own ``/usr/share/asterisk/sounds/es``), so the corpus builders
read every package from its own folder, ``CACHE/<package>/``, laid out like ``/``. A package
that is installed is read from ``/`` instead, and nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import MissingDependencyError

DEFAULT_CACHE = Path(os.environ.get("SPEECHTOK_DEB_CACHE", Path.home() / ".cache" / "speechtok" / "debs"))


def installed(package: str) -> bool:
    """True when dpkg says ``package`` is installed here."""
    if shutil.which("dpkg-query") is None:
        return False
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip().endswith(" installed")


def package_root(package: str, cache: str | os.PathLike | None = None, prefer_installed: bool = True) -> Path:
    """The folder under which ``package``'s files lie: ``/`` when it is installed, else
    ``cache/<package>/`` (downloaded and unpacked once; a finished unpack is marked ``.unpacked``
    so an interrupted one is redone). Raises MissingDependencyError with the command to run when
    apt-get or dpkg cannot provide it."""
    if prefer_installed and installed(package):
        return Path("/")
    cache = Path(cache or DEFAULT_CACHE)
    root = cache / package
    if (root / ".unpacked").exists():
        return root
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise MissingDependencyError(f"{package}: not installed and {tool} is missing; on Debian/Ubuntu run: "
                                         f"apt-get download {package}")
    debs = cache / ".debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        r = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if r.returncode != 0 or not found:
            last = (r.stderr.strip().splitlines() or ["no message"])[-1]
            raise MissingDependencyError(f"{package}: apt-get download failed ({last}); run `sudo apt-get update`, "
                                         f"or install it: sudo apt-get install {package}")
    if root.exists():
        shutil.rmtree(root)
    tmp = cache / f".{package}.tmp{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    r = subprocess.run(["dpkg", "-x", str(found[-1]), str(tmp)], capture_output=True, text=True)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise MissingDependencyError(f"{found[-1]}: dpkg -x failed ({r.stderr.strip()[-200:]})")
    os.replace(tmp, root)
    (root / ".unpacked").write_text(found[-1].name + "\n")
    return root
