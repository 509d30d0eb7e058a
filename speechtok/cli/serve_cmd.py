"""`speechtok serve`: the HTTP + WebSocket service and its demo page (`speechtok demo --web`
starts the same server with the demo's tokenizers). See docs/serve.md."""

from __future__ import annotations

import os
import sys

from ..defaults import DEFAULT_TOKENIZER, DEMO_COMPARE, LOW_LATENCY_STREAM
from ..errors import MissingDependencyError, SpeechtokError
from .options import nonnegative_int, port, positive_float, positive_int

SERVE_DEFAULT = (DEFAULT_TOKENIZER, *DEMO_COMPARE, LOW_LATENCY_STREAM)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="tokenizers as an HTTP + WebSocket service, with a demo page",
        description="Serve registered tokenizers over HTTP (encode, decode, OpenAPI page at /docs), "
        "stream through causal ones over a WebSocket, and show a demo page at /.",
    )
    add_server_args(p)
    p.add_argument(
        "-t", "--tokenizers", nargs="+", default=list(SERVE_DEFAULT), metavar="NAME",
        help=f"registered tokenizer names to serve (default: {' '.join(SERVE_DEFAULT)})",
    )
    p.set_defaults(func=_serve)


def add_server_args(p) -> None:
    """--host, --port and the limits; `speechtok demo --web` takes them too."""
    from ..serve.limits import Limits

    d = Limits()
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=port, default=8000, help="default 8000 (0: any free port)")
    p.add_argument("--root-path", default="", help="the path prefix a reverse proxy serves this under, e.g. /speechtok")
    g = p.add_argument_group("limits")
    g.add_argument("--max-upload-mb", type=positive_float, default=d.max_upload_mb, help=f"largest request body (default {d.max_upload_mb:g})")
    g.add_argument("--max-duration-s", type=positive_float, default=d.max_duration_s, help=f"longest audio in or out (default {d.max_duration_s:g})")
    g.add_argument("--timeout-s", type=positive_float, default=d.request_timeout_s, help=f"per request, queue + compute (default {d.request_timeout_s:g})")
    g.add_argument("--workers", type=positive_int, default=d.workers, help=f"requests computed at once (default {d.workers}: the CPU count, at most 4)")
    g.add_argument("--queue", type=nonnegative_int, default=d.queue, help=f"requests waiting beyond those; more get 503 (default {d.queue})")
    g.add_argument("--max-streams", type=nonnegative_int, default=d.max_streams, help=f"open WebSocket streams (default {d.max_streams})")
    g.add_argument("--header-timeout-s", type=positive_float, default=d.header_timeout_s,
                   help=f"a connection's request headers must arrive within this (slow clients; default {d.header_timeout_s:g})")
    p.add_argument("--tts", nargs="*", default=None, metavar="VOICE",
                   help="TTS voices for POST /v1/tts and the page's text box (default: the shipped ones; --tts alone: none)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def limits_from_args(args):
    from ..serve.limits import Limits

    limits = Limits(
        max_upload_mb=args.max_upload_mb, max_duration_s=args.max_duration_s, request_timeout_s=args.timeout_s,
        workers=args.workers, queue=args.queue, max_streams=args.max_streams, header_timeout_s=args.header_timeout_s,
    )
    try:
        limits.validate()
    except ValueError as e:
        raise SpeechtokError(str(e)) from None
    return limits


def check_address(host: str, port: int) -> None:
    """Refuse, in one line, an address the server could not listen on: a host that does not
    resolve, a port in use or one this user may not open."""
    import errno
    import socket

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise SpeechtokError(f"--host {host}: not an address of this machine ({getattr(e, 'strerror', None) or e})") from None
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise SpeechtokError(f"{host}:{port}: port already in use (another server?); choose another --port") from None
            if e.errno in (errno.EACCES, errno.EPERM):
                raise SpeechtokError(f"{host}:{port}: permission denied (ports below 1024 need root); choose another --port") from None
            raise SpeechtokError(f"{host}:{port}: cannot listen there ({e.strerror or e})") from None


def _serve(args) -> int:
    return run_server(args.tokenizers, args)


def _load_voices(names: list[str] | None) -> dict:
    """The TTS voices to serve: ``names``, or by default every shipped voice present."""
    from ..tts.voice import ASSETS, SHIPPED
    from ..serve.tts import load_voices

    if names is None:
        names = [n for n, folder in SHIPPED.items() if (ASSETS / folder / "model.safetensors").is_file()]
    if names:
        print(f"speechtok serve: loading TTS voices {', '.join(names)}", file=sys.stderr)
    return load_voices(names)


def run_server(names: list[str], args) -> int:
    try:
        import uvicorn

        from ..serve import create_app
        from ..serve.models import load_tokenizers
    except ModuleNotFoundError as e:
        raise MissingDependencyError(
            f"speechtok serve needs {e.name}: pip install 'speechtok[serve]' (or `make venv`)"
        ) from None
    import logging

    import torch

    limits = limits_from_args(args)
    check_address(args.host, args.port)  # before loading anything: a port in use is one line, exit 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # each worker computes one request: share the cores among them instead of oversubscribing
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // limits.workers))
    print(f"speechtok serve: loading {', '.join(names)}", file=sys.stderr)
    tokenizers = load_tokenizers(names)
    app = create_app(tokenizers, limits, _load_voices(getattr(args, "tts", None)))
    from ..serve.protocol import header_deadline_protocol

    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    print(f"speechtok serve: {url}/ (demo page), {url}/docs (API); Ctrl-C stops", file=sys.stderr)
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level,
        # backstops below our own limits: uvicorn answers 503 beyond this many connections,
        # and refuses WebSocket messages larger than a stream message may be
        limit_concurrency=limits.workers + limits.queue + limits.max_streams + 64,
        ws_max_size=int(limits.stream_max_message_kb * 1024) + 1024,
        timeout_keep_alive=5, root_path=args.root_path, http=header_deadline_protocol(limits.header_timeout_s),
    )
    return 0
