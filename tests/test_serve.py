"""`speechtok serve`, in process: encode/decode equal the library, streaming equals whole-file,
every bad request is a one-line 4xx, the concurrency limits answer 503, paths are never loaded."""

from __future__ import annotations

import contextlib
import io
import json
import struct
import threading
import time

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'speechtok[serve]')")
from fastapi.testclient import TestClient  # noqa: E402
from serve_helpers import BLOCKING, CAUSAL, BlockingTokenizer, register_test_tokenizers  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import speechtok  # noqa: E402
from speechtok import Tokens  # noqa: E402
from speechtok.cli import main  # noqa: E402
from speechtok.errors import SpeechtokError  # noqa: E402
from speechtok.serve import Limits, create_app  # noqa: E402
from speechtok.serve.models import load_tokenizers  # noqa: E402

LOW = "speechtok-fast+lowlatency@1.45kbps"
SERVED = ["opus@6kbps", "codec2@3200", CAUSAL, "speechtok-base@0.9kbps", LOW]


@pytest.fixture(scope="module")
def tokenizers():
    register_test_tokenizers()
    return load_tokenizers(SERVED)


@pytest.fixture(scope="module")
def client(tokenizers):
    return TestClient(create_app(tokenizers, Limits(max_upload_mb=1, max_duration_s=8)))


@pytest.fixture(scope="module")
def clip(speech_paths):
    path = speech_paths[0]
    return path.read_bytes(), *sf.read(str(path), dtype="float32")


def wav_of(audio, sr, subtype="PCM_16", fmt="WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sr, subtype=subtype, format=fmt)
    return buf.getvalue()


def encode(client, name, body, ctype="audio/wav", fmt="json"):
    return client.post(f"/v1/encode?tokenizer={name}&format={fmt}", content=body, headers={"Content-Type": ctype})


# ---- what works ------------------------------------------------------------------------------
def test_lists_tokenizers_limits_and_an_offline_api_page(client):
    listed = {t["name"]: t for t in client.get("/v1/tokenizers").json()}
    assert list(listed) == SERVED
    assert listed["opus@6kbps"]["kbps"] == 6.0 and listed["opus@6kbps"]["streaming"]
    assert listed[CAUSAL]["streaming"] and not listed["codec2@3200"]["streaming"]
    assert client.get("/v1/limits").json()["max_upload_bytes"] == 1024 * 1024
    spec = client.get("/openapi.json").json()
    assert {"/v1/encode", "/v1/decode", "/v1/tokenizers"} <= set(spec["paths"])
    docs = client.get("/docs").text
    assert "_docs-static/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/_docs-static/swagger-ui-bundle.js").status_code == 200
    page = client.get("/").text
    assert 'id="run"' in page and client.get("/static/app.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


@pytest.mark.parametrize("name", ["opus@6kbps", CAUSAL])
def test_encode_and_decode_equal_the_library(client, tokenizers, clip, name):
    data, audio, sr = clip
    tok = tokenizers[name]
    expected = tok.encode(audio, sr)

    got = encode(client, name, data)
    assert got.status_code == 200, got.text
    body = got.json()
    assert np.array_equal(body["codes"], expected.codes) and body["num_samples"] == len(audio)
    assert body["kbps"] == pytest.approx(expected.bitrate / 1000)

    stok = encode(client, name, data, fmt="stok")
    assert stok.headers["content-type"] == "application/x-speechtok"
    assert Tokens.from_bytes(stok.content) == expected

    want, want_sr = tok.decode(expected)
    for body, ctype in [(stok.content, "application/x-speechtok"), (json.dumps(body), "application/json")]:
        r = client.post("/v1/decode", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        wav, wav_sr = sf.read(io.BytesIO(r.content), dtype="float32")
        assert wav_sr == want_sr and len(wav) == len(want)
        assert np.max(np.abs(wav - np.clip(want, -1, 1))) < 2 / 32768  # 16-bit wav


def test_any_rate_and_channels_are_accepted(client, tokenizers, clip):
    _, audio, sr = clip
    stereo_44k = np.stack([audio, audio], axis=1)
    import soxr

    stereo_44k = soxr.resample(stereo_44k, sr, 44100).astype(np.float32)
    r = encode(client, "opus@6kbps", wav_of(stereo_44k, 44100))
    assert r.status_code == 200 and r.json()["sample_rate"] == 44100
    r = encode(client, "opus@6kbps", wav_of(audio, sr, fmt="FLAC"), ctype="audio/flac")
    assert r.status_code == 200 and r.json()["num_samples"] == len(audio)


def test_concurrent_requests_give_what_one_at_a_time_gives(tokenizers, speech_paths):
    """Several workers share one model: answers must not mix (our codec runs unlocked)."""
    from concurrent.futures import ThreadPoolExecutor

    from speechtok.audio import load_audio

    client = TestClient(create_app(tokenizers, Limits(workers=4)))
    jobs = [(p, name) for p in speech_paths for name in (CAUSAL, "opus@6kbps")] * 2
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda job: encode(client, job[1], job[0].read_bytes(), fmt="stok"), jobs))
    for (path, name), r in zip(jobs, answers):
        assert r.status_code == 200
        assert Tokens.from_bytes(r.content) == tokenizers[name].encode(*load_audio(path)), (path.name, name)


def test_unknown_tokenizer_classes_are_called_one_at_a_time(tokenizers):
    from speechtok.serve.models import call_guard

    assert isinstance(call_guard(tokenizers["opus@6kbps"]), type(contextlib.nullcontext()))
    assert isinstance(call_guard(tokenizers[CAUSAL]), type(contextlib.nullcontext()))
    assert isinstance(call_guard(BlockingTokenizer()), type(threading.Lock()))


# ---- what is refused -------------------------------------------------------------------------------
def stok_of(client, data) -> bytes:
    return encode(client, "opus@6kbps", data, fmt="stok").content


STOK = "application/x-speechtok"


def raw_stok(header: bytes, codes: bytes = b"") -> bytes:
    """A token file with any header bytes (valid checksum)."""
    import zlib

    from speechtok.tokens import MAGIC

    body = header + codes
    return MAGIC + struct.pack("<HI", 2, len(header)) + body + struct.pack("<I", zlib.crc32(body))


def bad_requests(client, clip):
    data, audio, sr = clip
    stok = stok_of(client, data)
    header_end = 14 + struct.unpack("<I", stok[10:14])[0]
    good = encode(client, "opus@6kbps", data).json()
    nan = audio.copy()
    nan[100] = np.nan
    return {
        "unknown tokenizer": (404, "post", "/v1/encode?tokenizer=nope@1kbps", data, "audio/wav"),
        "a path as tokenizer": (404, "post", "/v1/encode?tokenizer=speechtok/assets/models/speechtok-base", data, "audio/wav"),
        "no tokenizer": (422, "post", "/v1/encode", data, "audio/wav"),
        "bad format": (422, "post", "/v1/encode?tokenizer=opus@6kbps&format=xml", data, "audio/wav"),
        "wrong content type": (415, "post", "/v1/encode?tokenizer=opus@6kbps", data, "multipart/form-data"),
        "json to encode": (415, "post", "/v1/encode?tokenizer=opus@6kbps", b"{}", "application/json"),
        "empty body": (400, "post", "/v1/encode?tokenizer=opus@6kbps", b"", "audio/wav"),
        "not audio": (422, "post", "/v1/encode?tokenizer=opus@6kbps", b"hello, world" * 10, "audio/wav"),
        "truncated wav header": (422, "post", "/v1/encode?tokenizer=opus@6kbps", data[:30], "audio/wav"),
        "NaN samples": (422, "post", "/v1/encode?tokenizer=opus@6kbps", wav_of(nan, sr, "FLOAT"), "audio/wav"),
        "too long (flac of silence)": (
            413, "post", "/v1/encode?tokenizer=opus@6kbps", wav_of(np.zeros(16000 * 20, np.float32), 16000, fmt="FLAC"), "audio/flac"),
        "too large": (413, "post", "/v1/encode?tokenizer=opus@6kbps", b"\0" * (1024 * 1024 + 1), "audio/wav"),
        "corrupt token file": (422, "post", "/v1/decode", stok[:-9] + bytes([stok[-9] ^ 0xFF]) + stok[-8:], "application/x-speechtok"),
        "truncated token file": (422, "post", "/v1/decode", stok[: header_end + 5], "application/octet-stream"),
        "not a token file": (422, "post", "/v1/decode", data, "application/octet-stream"),
        "audio to decode": (415, "post", "/v1/decode", data, "audio/wav"),
        "bad JSON": (422, "post", "/v1/decode", b"{codes: [", "application/json"),
        "JSON list": (422, "post", "/v1/decode", b"[1, 2]", "application/json"),
        "codes out of range": (422, "post", "/v1/decode", json.dumps(good | {"codes": [[300] * 3] * 15}).encode(), "application/json"),
        "ragged codes": (422, "post", "/v1/decode", json.dumps(good | {"codes": [[1, 2], [3]]}).encode(), "application/json"),
        "float codes": (422, "post", "/v1/decode", json.dumps(good | {"codes": [[0.5] * 3] * 15}).encode(), "application/json"),
        "duration bomb": (413, "post", "/v1/decode", json.dumps(good | {"num_samples": 10**12}).encode(), "application/json"),
        "tokens of an unserved tokenizer": (
            404, "post", "/v1/decode", json.dumps(good | {"tokenizer": "opus@8kbps"}).encode(), "application/json"),
        "wrong codebook sizes": (
            422, "post", "/v1/decode", json.dumps(good | {"codebook_sizes": [512] * 15}).encode(), "application/json"),
        # issue 20: damaged token files are the input's fault (4xx), never a 500
        "deeply nested JSON header": (422, "post", "/v1/decode", raw_stok(b"[" * 100000 + b"]" * 100000), STOK),
        "deeply nested JSON body": (422, "post", "/v1/decode", b"[" * 100000 + b"]" * 100000, "application/json"),
        "zero frames, 3 s claimed": (422, "post", "/v1/decode", Tokens(
            np.zeros((15, 0), int), "opus@6kbps", "", 50.0, (256,) * 15, 48000, 16000).to_bytes(), STOK),
        "random bytes in the Opus payload": (422, "post", "/v1/decode", json.dumps(
            good | {"codes": np.random.default_rng(0).integers(0, 256, np.shape(good["codes"])).tolist()}).encode(),
            "application/json"),
        "header claims hours": (413, "post", "/v1/decode", json.dumps(good | {"num_samples": 16000 * 3600}).encode(),
                                "application/json"),
        "huge header": (431, "post", "/v1/encode?tokenizer=opus@6kbps", data, "audio/wav", {"X-Big": "a" * 20000}),
        "many headers": (431, "post", "/v1/encode?tokenizer=opus@6kbps", data, "audio/wav", {f"X-{i}": "b" * 100 for i in range(200)}),
        "wrong method": (405, "get", "/v1/encode?tokenizer=opus@6kbps", None, None),
        "no such page": (404, "get", "/v1/nothing", None, None),
    }


def test_every_bad_request_is_a_one_line_4xx(client, clip):
    for what, (status, method, url, body, ctype, *extra) in bad_requests(client, clip).items():
        kwargs = {} if body is None else {"content": body, "headers": {"Content-Type": ctype} | (extra[0] if extra else {})}
        r = getattr(client, method)(url, **kwargs)
        assert r.status_code == status, f"{what}: {r.status_code} {r.text[:300]}"
        reason = r.json()["error"]
        assert reason and "\n" not in reason and "Traceback" not in reason, what
        if status < 500:  # a refused request keeps the connection (no reset of the client's next request)
            assert r.headers.get("connection", "keep-alive") != "close", what
    assert client.get("/healthz").json()["counts"]["errors"] == 0


def test_a_streamed_body_over_the_limit_is_refused(client):
    def chunks():  # no Content-Length: the server counts as it reads
        for _ in range(40):
            yield b"\0" * 65536

    r = client.post("/v1/encode?tokenizer=opus@6kbps", content=chunks(), headers={"Content-Type": "audio/wav"})
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_requests_never_load_anything(client, clip, monkeypatch):
    def no_load(name):
        raise AssertionError(f"a request made the server load {name!r}")

    monkeypatch.setattr("speechtok.serve.models.load", no_load)
    monkeypatch.setattr("speechtok.load", no_load)
    data = clip[0]
    for name in ["../../etc/passwd", "/tmp", "speechtok/assets/models/speechtok-base", "opus@8kbps", "~"]:
        assert encode(client, name, data).status_code == 404


@pytest.mark.parametrize("name", ["./runs/x", "speechtok/assets/models/speechtok-base", "/etc", "~/model", "tests"])
def test_the_server_takes_registered_names_only(name):
    with pytest.raises(SpeechtokError, match="registered tokenizer names only"):
        load_tokenizers([name])


def test_cli_refuses_a_path_before_starting(capsys):
    assert main(["serve", "-t", "opus@6kbps", "./speechtok", "--port", "0"]) == 2
    assert "registered tokenizer names only" in capsys.readouterr().err
    # `speechtok demo --web` starts the same server, with the demo's tokenizers
    assert main(["demo", "--web", "--tokenizer", "tests", "--compare", "--port", "0"]) == 2
    assert "registered tokenizer names only" in capsys.readouterr().err


# ---- concurrency limits --------------------------------------------------------------------------
def blocked_client(limits: Limits):
    register_test_tokenizers()
    BlockingTokenizer.gate.set()  # load_tokenizers warms it up
    client = TestClient(create_app([BLOCKING], limits))
    BlockingTokenizer.gate.clear()
    BlockingTokenizer.started.clear()
    return client, client.app.state.service


def test_full_server_answers_503_then_recovers(clip):
    client, svc = blocked_client(Limits(workers=1, queue=1, request_timeout_s=20))
    wav = wav_of(clip[1], clip[2])
    results = []
    threads = [threading.Thread(target=lambda: results.append(encode(client, BLOCKING, wav).status_code)) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        assert BlockingTokenizer.started.wait(10)
        deadline = time.time() + 10
        while svc.pool.in_flight < 2 and time.time() < deadline:  # one computing, one queued
            time.sleep(0.01)
        r = encode(client, BLOCKING, wav)
        assert r.status_code == 503 and r.headers["retry-after"] == "1" and "busy" in r.json()["error"]
    finally:
        BlockingTokenizer.gate.set()
        for t in threads:
            t.join(20)
    assert results == [200, 200]
    assert encode(client, BLOCKING, wav).status_code == 200 and svc.pool.in_flight == 0


def test_a_slow_request_times_out_but_keeps_its_worker_until_done(clip):
    client, svc = blocked_client(Limits(workers=1, queue=0, request_timeout_s=0.3))
    r = encode(client, BLOCKING, wav_of(clip[1], clip[2]))
    assert r.status_code == 503 and "longer than 0.3 s" in r.json()["error"]
    assert svc.pool.in_flight == 1  # still computing: a new request is refused, not run beside it
    assert encode(client, BLOCKING, wav_of(clip[1], clip[2])).status_code == 503
    BlockingTokenizer.gate.set()
    deadline = time.time() + 10
    while svc.pool.in_flight and time.time() < deadline:
        time.sleep(0.01)
    assert svc.pool.in_flight == 0


# ---- streaming ------------------------------------------------------------------------------------------
def s16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768), -32768, 32767).astype("<i2")


def stream(client, name, pcm: np.ndarray, sizes, rate=16000, fmt="s16le"):
    """Send ``pcm`` in chunks of the given sizes; returns (messages, codes [K, frames], audio)."""
    url = f"/v1/stream?tokenizer={name}&sample_rate={rate}&format={fmt}"
    messages = []
    with client.websocket_connect(url) as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready", ready
        pos = i = 0
        while pos < len(pcm):
            n = sizes[i % len(sizes)]
            part = pcm[pos : pos + n]
            ws.send_bytes(s16(part).tobytes() if fmt == "s16le" else part.astype("<f4").tobytes())
            messages.append(ws.receive_json())
            pos, i = pos + n, i + 1
        ws.send_text('{"type": "end"}')
        messages.append(ws.receive_json())
        done = ws.receive_json()
    assert done["type"] == "done" and all(m["type"] == "chunk" for m in messages)
    codes = np.concatenate([np.array(m["codes"], dtype=np.int64).reshape(len(ready["codebook_sizes"]), -1) for m in messages], axis=1)
    import base64

    audio = np.concatenate([np.frombuffer(base64.b64decode(m["audio"]), "<i2") / 32768 for m in messages])
    return messages, codes, audio


@pytest.mark.parametrize("name", ["opus@6kbps", CAUSAL, "speechtok-base@0.9kbps", LOW])
def test_stream_equals_whole_file(client, tokenizers, clip, name):
    _, audio, sr = clip
    pcm = s16(audio) / np.float32(32768)  # what s16le carries
    tok = tokenizers[name]
    whole = tok.encode(pcm, sr)
    if getattr(getattr(tok, "codec", None), "normalized", False):
        # a live stream cannot know the utterance's mean envelope in advance: it codes with the
        # model's global mean, as whole-file encoding does when given no mean
        whole = speechtok.Tokens(**{**whole.__dict__, "codes": tok.codec.encode(pcm, tok.stages),
                                    "extra": {k: v for k, v in whole.extra.items() if k not in ("envelope_mean", "payload_bits")}})
    messages, codes, out = stream(client, name, pcm, sizes=[320, 1000, 77, 4000, 2345])
    assert np.array_equal(codes, whole.codes)
    want, _ = tok.decode(whole)
    assert len(out) == len(want)
    assert np.max(np.abs(out - np.clip(want, -1, 1))) < 3e-4
    assert all(m["compute_ms"] >= 0 and m["lag_ms"] >= 0 for m in messages)


def test_low_latency_stream_holds_back_at_most_80_ms(client, clip):
    """20 ms chunks, as the demo page sends them: the audio that comes back lags the audio sent
    by no more than the model's stated latency (rounded up to whole chunks), <= 80 ms."""
    listed = {t["name"]: t for t in client.get("/v1/tokenizers").json()}
    assert listed[LOW]["streaming"] and listed[LOW]["latency_ms"] <= 80
    assert listed["speechtok-base@0.9kbps"]["latency_ms"] > 1000  # the file mode, for comparison
    _, audio, sr = clip
    messages, _, _ = stream(client, LOW, audio[: 3 * sr], sizes=[320])
    lags = [m["lag_ms"] for m in messages if not m["last"]]
    assert max(lags) <= 80 and max(lags) <= -(-listed[LOW]["latency_ms"] // 20) * 20


def test_stream_resamples_other_rates(client, clip):
    _, audio, sr = clip
    import soxr

    pcm48 = soxr.resample(audio, sr, 48000).astype(np.float32)
    messages, codes, out = stream(client, "opus@6kbps", pcm48, sizes=[960], rate=48000, fmt="f32le")
    assert codes.shape[1] == int(np.ceil((len(audio) + 104) / 320))  # + the Opus lookahead
    assert abs(len(out) - len(audio)) <= 1
    assert np.corrcoef(out[2000:-2000], audio[2000 : len(out) - 2000])[0, 1] > 0.8  # it is the same speech


@pytest.mark.parametrize("url,send,code,reason", [
    ("/v1/stream?tokenizer=nope", None, 1008, "does not offer"),
    ("/v1/stream?tokenizer=codec2@3200", None, 1008, "cannot stream"),
    ("/v1/stream?tokenizer=opus@6kbps&format=mp3", None, 1008, "format"),
    ("/v1/stream?tokenizer=opus@6kbps&sample_rate=12", None, 1008, "sample_rate"),
    ("/v1/stream?tokenizer=opus@6kbps", b"\0\0\0", 1003, "multiple of 2"),
    ("/v1/stream?tokenizer=opus@6kbps&format=f32le", np.full(4, np.nan, "<f4").tobytes(), 1003, "NaN"),
    ("/v1/stream?tokenizer=opus@6kbps", "hello", 1007, "end"),
    ("/v1/stream?tokenizer=opus@6kbps", "[" * 100000 + "]" * 100000, 1007, "not valid JSON"),
    ("/v1/stream?tokenizer=opus@6kbps", '{"type": "stop"}', 1003, "end"),
])
def test_bad_streams_are_closed_with_a_reason(client, url, send, code, reason):
    with client.websocket_connect(url) as ws:
        first = ws.receive_json()
        if send is not None:
            assert first["type"] == "ready"
            ws.send_bytes(send) if isinstance(send, bytes) else ws.send_text(send)
            first = ws.receive_json()
        assert first["type"] == "error" and reason in first["error"]
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
        assert e.value.code == code
    assert client.app.state.service.streams == 0


def test_stream_slots_are_limited(tokenizers):
    client = TestClient(create_app(tokenizers, Limits(max_streams=1)))
    with client.websocket_connect("/v1/stream?tokenizer=opus@6kbps") as first:
        assert first.receive_json()["type"] == "ready"
        with client.websocket_connect("/v1/stream?tokenizer=opus@6kbps") as second:
            msg = second.receive_json()
            assert msg["type"] == "error" and "full" in msg["error"]
            with pytest.raises(WebSocketDisconnect) as e:
                second.receive_json()
            assert e.value.code == 1013
    with client.websocket_connect("/v1/stream?tokenizer=opus@6kbps") as again:  # the slot came back
        assert again.receive_json()["type"] == "ready"


def test_opus_stream_session_equals_whole_file(speech_clips):
    tok = speechtok.load("opus@8kbps")
    _, audio, _ = speech_clips[1]
    session = tok.open_stream()
    codes, out, pos = [], [], 0
    for n in [1, 319, 320, 321, 5000, 64]:
        codes.append(session.encode(audio[pos : pos + n]))
        out.append(session.decode(codes[-1]))
        pos += n
    codes.append(session.encode(audio[pos:]))
    codes.append(session.encode_flush())
    out += [session.decode(c) for c in codes[-2:]] + [session.decode_flush()]
    session.close()
    whole = tok.encode(audio, 16000)
    assert np.array_equal(np.concatenate(codes, axis=1), whole.codes)
    assert np.array_equal(np.concatenate(out)[: len(audio)], tok.decode(whole)[0])
    with pytest.raises(RuntimeError, match="closed"):
        session.encode(audio[:320])
