"""``POST /v1/tts``: text -> speech from a trained voice, streamed sentence by sentence as one wav.

The response is a 16-bit mono wav whose header announces an open-ended length (the streaming
convention players accept), then each sentence's samples as soon as they are synthesized: the
first sentence is heard while the rest is computed.
"""

from __future__ import annotations

import asyncio
import struct

import numpy as np

from ..errors import SpeechtokError

MAX_TTS_CHARS = 2000


def load_voices(names: list[str]) -> dict:
    from ..tts import load

    return {name: load(name) for name in names}


def wav_stream_header(sample_rate: int) -> bytes:
    """A PCM16 mono wav header with the sizes set to the maximum: length unknown."""
    n = 0xFFFFFFFF
    return (b"RIFF" + struct.pack("<I", n) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
            + b"data" + struct.pack("<I", n - 36))


def _pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def add_tts_routes(app, svc, voices: dict, Refused, one_line) -> None:
    """Add /v1/tts and /v1/voices to ``app`` (``svc``: the server's Service: its limits and workers)."""
    from fastapi import Body
    from fastapi.responses import StreamingResponse

    @app.get("/v1/voices", summary="The TTS voices this server offers")
    async def list_voices():
        return {name: {"speakers": v.voices, "languages": v.languages, "sample_rate": v.sample_rate,
                       "codec": v.cfg.codec} for name, v in voices.items()}

    @app.post(
        "/v1/tts",
        summary="Text -> speech (audio/wav, streamed sentence by sentence)",
        description=("JSON body: `{\"text\": \"...\", \"model\": \"speechtok-tts-en\", \"voice\": null, \"pace\": 1.0}`. "
                     "The wav starts with the first sentence while the rest is synthesized."),
        responses={200: {"content": {"audio/wav": {}}}},
    )
    async def tts(payload: dict = Body(...)):
        svc.counts["requests"] += 1
        if not voices:
            raise Refused(404, "this server offers no TTS voice (start it with --tts NAME)")
        name = payload.get("model") or next(iter(voices))
        if not isinstance(name, str) or name not in voices:
            raise Refused(404, f"no voice model {one_line(str(name), 80)!r}; this server offers: {', '.join(voices)}")
        v = voices[name]
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Refused(422, "text is empty: give at least one word")
        if len(text) > MAX_TTS_CHARS:
            raise Refused(413, f"text too long: {len(text)} characters, at most {MAX_TTS_CHARS}")
        speaker = payload.get("voice")
        try:
            pace = float(payload.get("pace", 1.0))
        except (TypeError, ValueError):
            raise Refused(422, "pace must be a number between 0.25 and 4") from None
        # check the whole text before answering 200: errors come as a clear 4xx, not a cut stream
        await svc.run(v.phones, text, speaker)
        sentences = iter(v.stream(text, speaker, None, pace))
        max_samples = int(svc.limits.max_duration_s * v.sample_rate)

        def next_chunk():
            try:
                return next(sentences)
            except StopIteration:
                return None

        async def body():
            yield wav_stream_header(v.sample_rate)
            sent = 0
            while sent < max_samples:
                try:
                    chunk = await svc.run(next_chunk)
                except (Refused, SpeechtokError, asyncio.CancelledError):
                    return
                if chunk is None:
                    return
                chunk = chunk[: max_samples - sent]
                sent += len(chunk)
                yield _pcm16(chunk)

        return StreamingResponse(body(), media_type="audio/wav", headers={"X-Voice": name})
