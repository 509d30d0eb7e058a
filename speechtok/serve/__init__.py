"""`speechtok serve`: tokenizers as an HTTP + WebSocket service, with a web demo page.

    >>> from speechtok.serve import create_app, Limits
    >>> app = create_app(["opus@6kbps", "speechtok-base"], Limits(max_duration_s=30))
    >>> # uvicorn.run(app, host="127.0.0.1", port=8000)

Needs the ``serve`` extra: ``pip install 'speechtok[serve]'``. See docs/serve.md.
"""

from __future__ import annotations

from .app import create_app
from .limits import Limits


__all__ = ["Limits", "create_app"]
