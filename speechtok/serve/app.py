"""The HTTP + WebSocket service: `create_app(names, limits)` -> a FastAPI app.

Endpoints (OpenAPI page at /docs, served offline):

    GET  /                      the web demo page
    GET  /v1/tokenizers         what this server offers
    GET  /v1/limits             the limits in force
    POST /v1/encode?tokenizer=NAME[&format=json|stok]   body: an audio file -> tokens
    POST /v1/decode             body: a .stok file or tokens as JSON -> audio/wav
    WS   /v1/stream?tokenizer=NAME[&sample_rate=16000&format=s16le|f32le]
    GET  /v1/clips, /v1/clips/NAME.wav   the speech clips shipped with speechtok
    GET  /healthz

Every refused request gets a 4xx and ``{"error": "<one line>"}``; an unexpected failure gets a
500 with ``{"error": "internal error"}`` and its traceback goes to the log, never to the client.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations at run time
import asyncio
import base64
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..audio import read_audio_bytes, wav_bytes
from ..errors import AudioTooLongError, SpeechtokError, TokensFileError
from ..tokens import Tokens
from .limits import Busy, Limits, TimedOut, WorkerPool
from .models import call_guard, describe, load_tokenizers
from .streaming import StreamingUnsupported, open_stream

log = logging.getLogger("speechtok.serve")

STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"app.js": "text/javascript", "style.css": "text/css"}  # nothing else is served from there
STOK_TYPE = "application/x-speechtok"
AUDIO_TYPES = ("audio/", "application/octet-stream")
TOKEN_TYPES = (STOK_TYPE, "application/octet-stream", "application/json")
ERROR = {"content": {"application/json": {"example": {"error": "a one-line reason"}}}}


class Refused(Exception):
    """A request refused with ``status`` and a one-line ``reason`` (-> JSON 4xx/503)."""

    def __init__(self, status: int, reason: str, headers: dict | None = None):
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ---- tokens as JSON -----------------------------------------------------------------------
def tokens_to_json(tokens: Tokens) -> dict:
    return tokens.header() | {
        "codes": tokens.codes.tolist(),
        "frames": tokens.num_frames,
        "duration_s": tokens.duration,
        "kbps": tokens.bitrate / 1000,
        "tokens_per_second": tokens.tokens_per_second,
    }


def tokens_from_json(obj) -> Tokens:
    """The JSON that /v1/encode returns (extra keys ignored) -> Tokens; TokensFileError if bad."""
    if not isinstance(obj, dict):
        raise TokensFileError("tokens JSON must be an object with codes, tokenizer, ...")
    try:
        codes = np.asarray(obj["codes"])
        if codes.dtype.kind not in "iu" or codes.ndim != 2:
            raise ValueError("codes must be a list of lists of integers [codebook][frame]")
        return Tokens(
            codes=codes.astype(np.int64),
            tokenizer=str(obj["tokenizer"]),
            tokenizer_version=str(obj.get("tokenizer_version", "")),
            frame_rate=float(obj["frame_rate"]),
            codebook_sizes=tuple(int(s) for s in obj["codebook_sizes"]),
            num_samples=int(obj["num_samples"]),
            sample_rate=int(obj["sample_rate"]),
            extra=dict(obj.get("extra") or {}),
        )
    except KeyError as e:
        raise TokensFileError(f"tokens JSON has no {e.args[0]!r}") from None
    except (TypeError, ValueError, OverflowError) as e:
        raise TokensFileError(f"bad tokens JSON ({one_line(e, 200)})") from None


# ---- the app --------------------------------------------------------------------------------
class Service:
    """What the endpoints share: the tokenizers, the limits, the worker pools, the counters."""

    def __init__(self, tokenizers: dict, limits: Limits):
        self.tokenizers = tokenizers
        self.guards = {name: call_guard(tok) for name, tok in tokenizers.items()}
        self.limits = limits
        self.pool = WorkerPool(limits.workers, limits.queue)
        self.stream_pool = ThreadPoolExecutor(max(1, limits.max_streams), thread_name_prefix="speechtok-stream")
        self.streams = 0
        self.started = time.time()
        self.counts = {"requests": 0, "refused": 0, "busy": 0, "errors": 0}

    def tokenizer(self, name: str | None):
        if not name:
            raise Refused(422, f"name a tokenizer: ?tokenizer=NAME, one of {', '.join(self.tokenizers)}")
        # a "+" typed into a query string arrives as a space (names have no spaces):
        # ?tokenizer=speechtok-fast+lowlatency means what it says
        tok = self.tokenizers.get(name) or self.tokenizers.get(name.replace(" ", "+"))
        if tok is None:
            raise Refused(
                404, f"this server does not offer tokenizer {one_line(name, 80)!r}; it offers: {', '.join(self.tokenizers)}"
            )
        return tok

    async def run(self, fn, *args):
        """Run ``fn(*args)`` on a worker, within the limits; errors become Refused."""
        try:
            return await self.pool.run(self.limits.request_timeout_s, fn, *args)
        except Busy:
            self.counts["busy"] += 1
            raise Refused(
                503, f"server busy: {self.pool.capacity} requests in progress or queued; try again shortly",
                {"Retry-After": "1"},
            ) from None
        except TimedOut:
            raise Refused(503, f"the request took longer than {self.limits.request_timeout_s:g} s; try a shorter input") from None
        except AudioTooLongError as e:
            raise Refused(413, one_line(e)) from None
        except SpeechtokError as e:  # bad audio, a bad token file, ...: the input's fault
            raise Refused(422, one_line(e)) from None
        except RecursionError:
            raise Refused(422, "input nested too deeply; refused") from None
        except MemoryError:
            raise Refused(413, "input too large for this server's memory") from None

    async def read_body(self, request, allowed_types: tuple[str, ...], hint: str) -> tuple[bytes, str]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and not ctype.startswith(allowed_types):
            raise Refused(415, f"content type {one_line(ctype, 80)!r} is not accepted here; {hint}")
        limit = self.limits.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Refused(400, "bad Content-Length header")
            if int(declared) > limit:
                raise Refused(413, f"body of {int(declared)} bytes; the limit is {limit} bytes")
        body = bytearray()

        async def receive():
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > limit:
                    raise Refused(413, f"body larger than the limit of {limit} bytes")

        try:
            await asyncio.wait_for(receive(), self.limits.body_timeout_s)
        except asyncio.TimeoutError:
            raise Refused(408, f"the request body did not arrive within {self.limits.body_timeout_s:g} s") from None
        if not body:
            raise Refused(400, f"empty request body; {hint}")
        return bytes(body), ctype

    # ---- jobs (run on worker threads) ----------------------------------------------------
    def encode_job(self, tok, data: bytes):
        t0 = time.perf_counter()
        audio, sr = read_audio_bytes(data, "uploaded audio", max_seconds=self.limits.max_duration_s)
        with self.guards[tok.name]:
            tokens = tok.encode(audio, sr)
        return tokens, (time.perf_counter() - t0) * 1000

    def decode_job(self, data: bytes, ctype: str):
        """Parse (a 10 MiB JSON body takes a while: not on the event loop), check, decode."""
        t0 = time.perf_counter()
        tokens = self.parse_tokens(data, ctype)
        tok = self.tokenizer(tokens.tokenizer)
        if not tok.can_decode:
            raise Refused(422, f"{tok.name} is encode-only: it has no decoder")
        tok.check_tokens(tokens)
        with self.guards[tok.name]:
            audio, sr = tok.decode(tokens)
        return tokens, tok, wav_bytes(audio, sr), (time.perf_counter() - t0) * 1000

    def parse_tokens(self, data: bytes, ctype: str) -> Tokens:
        if ctype == "application/json":
            try:
                obj = json.loads(data)
            except (ValueError, RecursionError) as e:
                raise Refused(422, f"request body is not valid JSON ({one_line(e, 120)})") from None
            tokens = tokens_from_json(obj)
        else:
            tokens = Tokens.from_bytes(data, where="token file")
        max_s = self.limits.max_duration_s
        if tokens.duration > max_s or tokens.num_frames > (max_s + 1) * tokens.frame_rate:
            raise Refused(413, f"tokens for {tokens.duration:.1f} s of audio ({tokens.num_frames} frames); the limit is {max_s:g} s")
        return tokens


def create_app(tokenizers: list[str] | dict, limits: Limits | None = None, voices: dict | None = None):
    """The FastAPI app serving ``tokenizers`` (registered names, or an already loaded
    name -> Tokenizer dict from `load_tokenizers`) and the TTS ``voices`` (name -> ``tts.Voice``)."""
    from fastapi import Query, Request, WebSocket
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from fastapi_offline import FastAPIOffline
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.requests import ClientDisconnect

    from .. import __version__

    limits = limits or Limits()
    limits.validate()
    if not isinstance(tokenizers, dict):
        tokenizers = load_tokenizers(list(tokenizers))
    svc = Service(tokenizers, limits)

    app = FastAPIOffline(
        title="speechtok",
        version=__version__,
        description=(
            "Speech to discrete tokens and back, for every tokenizer this server was started with. "
            "Audio goes in as the request body (`curl --data-binary @clip.wav -H 'Content-Type: audio/wav'`); "
            "refused requests get a 4xx with `{\"error\": \"...\"}`. The page at `/` is a demo."
        ),
        static_url="/_docs-static",
    )
    app.state.service = svc
    app.add_middleware(HeaderLimit, max_bytes=int(limits.max_header_kb * 1024))

    def refused(exc: Refused) -> JSONResponse:
        svc.counts["refused"] += 1
        return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Refused)
    async def _refused(request, exc: Refused):
        return refused(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        return refused(Refused(exc.status_code, one_line(exc.detail), getattr(exc, "headers", None)))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc):
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x not in ("query", "body"))
        return refused(Refused(422, one_line(f"{where}: {first.get('msg', 'invalid request')}")))

    @app.exception_handler(ClientDisconnect)
    async def _gone(request, exc):
        return refused(Refused(400, "the client went away before the body arrived"))

    @app.exception_handler(Exception)
    async def _crash(request, exc):
        svc.counts["errors"] += 1
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal error"}, status_code=500)

    # ---- pages ---------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def page():
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in STATIC_FILES:
            raise Refused(404, "no such file")
        return Response((STATIC / name).read_bytes(), media_type=STATIC_FILES[name])

    @app.get("/healthz", summary="Liveness and load")
    async def healthz():
        return {
            "status": "ok",
            "tokenizers": list(svc.tokenizers),
            "in_flight": svc.pool.in_flight,
            "streams": svc.streams,
            "uptime_s": round(time.time() - svc.started, 1),
            "counts": svc.counts,
        }

    @app.get("/v1/tokenizers", summary="The tokenizers this server offers")
    async def list_tokenizers():
        return [describe(t) for t in svc.tokenizers.values()]

    @app.get("/v1/limits", summary="The limits in force")
    async def get_limits():
        return {k: getattr(limits, k) for k in limits.__dataclass_fields__} | {"max_upload_bytes": limits.max_upload_bytes}

    # ---- shipped clips (the demo page offers them; offline) --------------------------------
    clips = _shipped_clips()

    @app.get("/v1/clips", summary="Speech clips shipped with speechtok (for trying the service)")
    async def list_clips():
        return [{"name": n, "text": c["text"], "url": f"/v1/clips/{n}.wav"} for n, c in clips.items()]

    @app.get("/v1/clips/{name}.wav", summary="One shipped clip as wav", responses={404: ERROR})
    async def get_clip(name: str):
        if name not in clips:
            raise Refused(404, f"no clip {one_line(name, 80)!r}; GET /v1/clips lists them")
        return Response(clips[name]["path"].read_bytes(), media_type="audio/wav")

    # ---- encode / decode --------------------------------------------------------------------
    @app.post(
        "/v1/encode",
        summary="Audio file -> tokens",
        description=(
            "The body is an audio file (wav, flac, ogg/vorbis, ogg/opus, mp3; any rate and channel count). "
            "`format=json` returns the codes and their facts; `format=stok` returns the binary token file "
            "that `speechtok decode` and POST /v1/decode read."
        ),
        openapi_extra={"requestBody": {"required": True, "content": {
            "audio/wav": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        }}},
        responses={200: {"content": {STOK_TYPE: {}}}, 404: ERROR, 413: ERROR, 415: ERROR, 422: ERROR, 503: ERROR},
    )
    async def encode(
        request: Request,
        tokenizer: str = Query(..., max_length=200, description="a name from GET /v1/tokenizers"),
        format: str = Query("json", pattern="^(json|stok)$", description="json or stok"),
    ):
        svc.counts["requests"] += 1
        tok = svc.tokenizer(tokenizer)
        data, _ = await svc.read_body(
            request, AUDIO_TYPES, "send the audio file itself as the body, e.g. -H 'Content-Type: audio/wav' --data-binary @clip.wav"
        )
        tokens, ms = await svc.run(svc.encode_job, tok, data)
        headers = {"X-Compute-Ms": f"{ms:.1f}"}
        if format == "stok":
            headers["Content-Disposition"] = 'attachment; filename="tokens.stok"'
            return Response(tokens.to_bytes(), media_type=STOK_TYPE, headers=headers)
        return JSONResponse(tokens_to_json(tokens) | {"compute_ms": round(ms, 2)}, headers=headers)

    @app.post(
        "/v1/decode",
        summary="Tokens -> audio/wav",
        description=(
            "The body is a .stok token file (`application/x-speechtok` or `application/octet-stream`) or the JSON "
            "that /v1/encode returns (`application/json`). The tokenizer named in the tokens decodes them; "
            "it must be one this server offers."
        ),
        openapi_extra={"requestBody": {"required": True, "content": {
            STOK_TYPE: {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"type": "object"}},
        }}},
        responses={200: {"content": {"audio/wav": {}}}, 404: ERROR, 413: ERROR, 415: ERROR, 422: ERROR, 503: ERROR},
    )
    async def decode(request: Request):
        svc.counts["requests"] += 1
        data, ctype = await svc.read_body(
            request, TOKEN_TYPES, f"send a .stok file ({STOK_TYPE}) or tokens as JSON (application/json)"
        )
        tokens, tok, wav, ms = await svc.run(svc.decode_job, data, ctype)
        headers = {"X-Compute-Ms": f"{ms:.1f}"}
        if tokens.tokenizer_version and tokens.tokenizer_version != tok.version:
            headers["X-Speechtok-Warning"] = f"tokens made with {tokens.tokenizer_version}, decoded with {tok.version}"
        return Response(wav, media_type="audio/wav", headers=headers)

    # ---- text to speech (serve/tts.py) ---------------------------------------------------------
    from .tts import add_tts_routes

    add_tts_routes(app, svc, dict(voices or {}), Refused, one_line)

    # ---- streaming ----------------------------------------------------------------------------
    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket):
        await _stream(ws, svc)

    return app


class HeaderLimit:
    """ASGI middleware: requests whose headers together exceed ``max_bytes`` get a 431 (a
    WebSocket is closed with 1008) before any endpoint sees them."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            size = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
            if size > self.max_bytes:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008, "reason": "request headers too large"})
                    return
                from fastapi.responses import JSONResponse

                reason = f"request headers of {size} bytes; the limit is {self.max_bytes} bytes"
                await JSONResponse({"error": reason}, status_code=431)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _shipped_clips() -> dict:
    from ..data import shipped_clips

    try:
        return {Path(u.path).stem: {"path": Path(u.path), "text": u.text} for u in shipped_clips()}
    except (OSError, SpeechtokError):  # a build without the clips: the page still takes uploads
        return {}


# ---- the WebSocket stream ----------------------------------------------------------------------
PCM_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}


class _StreamRefused(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


class _Stream:
    """One client's stream: resample to the tokenizer's rate, encode, decode, count."""

    def __init__(self, tok, in_rate: int):
        import soxr

        self.tok = tok
        self.in_rate = in_rate
        self.session = open_stream(tok)
        self.resampler = soxr.ResampleStream(in_rate, tok.sample_rate, 1, dtype="float32") if in_rate != tok.sample_rate else None
        self.samples_in = 0  # at in_rate
        self.samples_out = 0  # at tok.sample_rate
        self.frames = 0

    def step(self, pcm: np.ndarray, last: bool) -> tuple[np.ndarray, np.ndarray]:
        """PCM at in_rate -> (new codes [K, frames], new audio at tok.sample_rate)."""
        x = self.resampler.resample_chunk(pcm, last=last) if self.resampler else pcm
        codes = self.session.encode(np.ascontiguousarray(x, dtype=np.float32))
        if last:
            codes = np.concatenate([codes, self.session.encode_flush()], axis=1)
        audio = self.session.decode(codes)
        if last:
            audio = np.concatenate([audio, self.session.decode_flush()])
            # whole-file decoding is trimmed to the input's length; so is the stream's end
            expected = int(round(self.samples_in * self.tok.sample_rate / self.in_rate))
            audio = audio[: max(0, expected - self.samples_out)]
        self.frames += codes.shape[1]
        self.samples_out += len(audio)
        return codes, audio

    def close(self) -> None:
        close = getattr(self.session, "close", None)
        if callable(close):
            close()


def _pcm16_b64(audio: np.ndarray) -> str:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    return base64.b64encode(pcm.tobytes()).decode("ascii")


async def _stream(ws, svc: Service) -> None:
    """Protocol (all server messages are JSON text):

    client: binary messages of PCM (``format``: s16le or f32le, mono, at ``sample_rate``), then
            the text message ``{"type": "end"}``
    server: ``{"type": "ready", ...}`` once; ``{"type": "chunk", "seq", "codes" [K][frames],
            "audio" (base64 s16le at the tokenizer's rate), "compute_ms", "lag_ms", ...}`` for each
            binary message; ``{"type": "done", ...}`` after the end, then closes (1000).
    On a bad stream: ``{"type": "error", "error": "..."}`` and a close with 1003 (bad data),
    1007 (a text message that is not valid JSON), 1008 (limits, bad parameters) or 1013 (server full).
    """
    from starlette.websockets import WebSocketDisconnect

    limits = svc.limits
    await ws.accept()
    session = pending = None
    counted = False
    try:
        q = ws.query_params
        tok = svc.tokenizer(q.get("tokenizer"))
        fmt = q.get("format", "s16le")
        if fmt not in PCM_FORMATS:
            raise _StreamRefused(1008, f"format must be one of {', '.join(PCM_FORMATS)}")
        rate_text = q.get("sample_rate", str(tok.sample_rate))
        if not rate_text.isdigit() or not 8000 <= int(rate_text) <= 192000:
            raise _StreamRefused(1008, "sample_rate must be an integer from 8000 to 192000")
        if svc.streams >= limits.max_streams:
            raise _StreamRefused(1013, f"server full: {limits.max_streams} streams open; try again shortly")
        svc.streams += 1
        counted = True
        try:
            session = _Stream(tok, int(rate_text))
        except StreamingUnsupported as e:
            raise _StreamRefused(1008, one_line(e)) from None
        dtype = PCM_FORMATS[fmt]
        await ws.send_json({
            "type": "ready", "tokenizer": tok.name, "sample_rate": tok.sample_rate, "input_sample_rate": session.in_rate,
            "format": fmt, "frame_rate": tok.frame_rate, "codebook_sizes": list(tok.codebook_sizes),
        })
        loop = asyncio.get_running_loop()
        max_bytes = limits.stream_max_message_kb * 1024
        seq = 0
        while True:
            try:
                msg = await asyncio.wait_for(ws.receive(), limits.stream_idle_s)
            except asyncio.TimeoutError:
                raise _StreamRefused(1008, f"no message for {limits.stream_idle_s:g} s; closing") from None
            if msg["type"] == "websocket.disconnect":
                return
            last = False
            if msg.get("bytes") is not None:
                data = msg["bytes"]
                if len(data) > max_bytes:
                    raise _StreamRefused(1009, f"message of {len(data)} bytes; the limit is {int(max_bytes)}")
                if len(data) % dtype.itemsize:
                    raise _StreamRefused(1003, f"{fmt} PCM needs a multiple of {dtype.itemsize} bytes, got {len(data)}")
                raw = np.frombuffer(data, dtype=dtype)
                pcm = (raw.astype(np.float32) / 32768.0) if fmt == "s16le" else raw.astype(np.float32)
                if not np.all(np.isfinite(pcm)):
                    raise _StreamRefused(1003, "PCM has NaN or infinite samples")
                session.samples_in += len(pcm)
                if session.samples_in > limits.stream_max_s * session.in_rate:
                    raise _StreamRefused(1008, f"more than {limits.stream_max_s:g} s of audio in one stream")
            else:
                try:
                    obj = json.loads(msg.get("text") or "")
                except (ValueError, RecursionError):  # 1007: the message's data is not valid JSON
                    raise _StreamRefused(1007, 'text messages must be the JSON {"type": "end"}; this one is not valid JSON') from None
                kind = obj.get("type") if isinstance(obj, dict) else None
                if kind != "end":
                    raise _StreamRefused(1003, 'text messages must be {"type": "end"}; audio goes in binary messages')
                pcm, last = np.zeros(0, dtype=np.float32), True
            t0 = time.perf_counter()
            pending = loop.run_in_executor(svc.stream_pool, session.step, pcm, last)
            codes, audio = await pending
            ms = (time.perf_counter() - t0) * 1000
            lag = session.samples_in / session.in_rate - session.samples_out / tok.sample_rate
            await ws.send_json({
                "type": "chunk", "seq": seq, "codes": codes.tolist(), "frames": int(codes.shape[1]),
                "audio": _pcm16_b64(audio), "samples": len(audio), "compute_ms": round(ms, 3),
                "lag_ms": round(max(lag, 0.0) * 1000, 2), "last": last,
            })
            seq += 1
            if last:
                await ws.send_json({
                    "type": "done", "chunks": seq, "frames": session.frames,
                    "seconds_in": session.samples_in / session.in_rate, "seconds_out": session.samples_out / tok.sample_rate,
                })
                await ws.close(1000)
                return
    except WebSocketDisconnect:
        return
    except Refused as e:
        await _close_with_error(ws, 1008, e.reason)
    except _StreamRefused as e:
        await _close_with_error(ws, e.code, e.reason)
    except SpeechtokError as e:
        await _close_with_error(ws, 1003, one_line(e))
    except Exception:
        svc.counts["errors"] += 1
        log.exception("internal error in a stream")
        await _close_with_error(ws, 1011, "internal error")
    finally:
        if counted:
            svc.streams -= 1
        if session is not None:
            if pending is not None and not pending.done():  # never free codec state under a running step
                pending.add_done_callback(lambda _: session.close())
            else:
                session.close()


async def _close_with_error(ws, code: int, reason: str) -> None:
    try:
        await ws.send_json({"type": "error", "error": reason})
        await ws.close(code, reason=reason.encode()[:120].decode("utf-8", "ignore"))
    except Exception:  # the client is already gone
        pass

