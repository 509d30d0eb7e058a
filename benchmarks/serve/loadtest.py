"""Load test and fuzz run of `speechtok serve`, against a real server in a subprocess.

    nice -n 10 python benchmarks/serve/loadtest.py --out benchmarks/serve

1. Load: for each tokenizer, encode (a 3.5 s shipped clip as wav) and decode (its .stok) at 1, 8
   and 32 concurrent clients (asyncio + httpx), each for --seconds, all of it --rounds times:
   requests/s, p50/p99 latency, refused-as-busy (503) and other errors; the server's RSS after
   loading, after a warm-up (1 s of each request at the highest concurrency), after each phase
   and after each round.
2. Fuzz: --fuzz malformed requests (truncated and corrupted audio, wrong content types, corrupt
   token files with and without a valid checksum, mangled JSON tokens, huge headers, wrong and
   hostile tokenizer names, oversized bodies, odd audio parameters, bad WebSocket streams), sent
   by 8 clients; counts of 2xx / 4xx / 5xx / no answer per kind (goal: zero 5xx), and a health
   check afterwards.

Writes OUT/results.json (every figure) and prints the tables that README.md holds.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from speechtok.fsutil import write_atomic  # noqa: E402

CLIP = ROOT / "speechtok" / "assets" / "clips" / "en_privacy-prompt.wav"


# ---- the server ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(tokenizers: list[str], port: int, workers: int, queue: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "speechtok", "serve", "--port", str(port), "--log-level", "warning",
           "--workers", str(workers), "--queue", str(queue), "-t", *tokenizers]
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(Path("/tmp") / f"speechtok-serve-{port}.log", "w"))
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see /tmp/speechtok-serve-{port}.log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


# ---- load ---------------------------------------------------------------------------------------
async def phase(base: str, make_request, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def worker():
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    r = await make_request(client)
                    key = str(r.status_code)
                except httpx.HTTPError as e:
                    key = type(e).__name__
                if key == "200":
                    latencies.append(time.perf_counter() - t0)
                statuses[key] = statuses.get(key, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    ok = statuses.get("200", 0)
    lat = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return {
        "clients": clients, "seconds": round(elapsed, 2), "ok": ok, "rps": round(ok / elapsed, 2),
        "p50_ms": round(float(np.percentile(lat, 50)), 1), "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "busy_503": statuses.get("503", 0), "errors": sum(v for k, v in statuses.items() if k not in ("200", "503")),
        "statuses": statuses,
    }


async def load_test(base: str, pid: int, tokenizers: list[str], levels: list[int], seconds: float,
                    rounds: int) -> tuple[list, dict]:
    wav = CLIP.read_bytes()
    clip_s = sf.info(str(CLIP)).duration
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        stoks = {}
        for name in tokenizers:  # warm-up: one of each request, so first-use allocations are done
            r = await client.post(f"/v1/encode?tokenizer={name}&format=stok", content=wav, headers={"Content-Type": "audio/wav"})
            r.raise_for_status()
            stoks[name] = r.content
            (await client.post("/v1/decode", content=r.content, headers={"Content-Type": "application/x-speechtok"})).raise_for_status()
    requests = {
        (name, op): make
        for name in tokenizers
        for op, make in {
            "encode": lambda c, n=name: c.post(f"/v1/encode?tokenizer={n}&format=stok", content=wav, headers={"Content-Type": "audio/wav"}),
            "decode": lambda c, n=name: c.post("/v1/decode", content=stoks[n], headers={"Content-Type": "application/x-speechtok"}),
        }.items()
    }
    # warm-up at the highest concurrency, 1 s each: the allocator's high-water mark for that many
    # requests in flight is reached here, so growth after it would be a leak
    for make in requests.values():
        await phase(base, make, max(levels), 1.0)
    memory = {"after_warm_up_mb": round(rss_mb(pid), 1)}
    rows = []
    for round_ in range(1, rounds + 1):  # the same load again: RSS that keeps rising would be a leak
        for name in tokenizers:
            for op in ("encode", "decode"):
                make = requests[name, op]
                for clients in levels:
                    row = {"round": round_, "tokenizer": name, "op": op} | await phase(base, make, clients, seconds)
                    row["audio_s_per_s"] = round(row["rps"] * clip_s, 1)
                    row["rss_mb"] = round(rss_mb(pid), 1)
                    rows.append(row)
                    print(f"  round {round_} {name:<16} {op:<6} {clients:>2} clients: {row['rps']:7.1f} req/s  p50 {row['p50_ms']:7.1f} ms  "
                          f"p99 {row['p99_ms']:7.1f} ms  503 {row['busy_503']}  errors {row['errors']}  RSS {row['rss_mb']} MB", flush=True)
        memory[f"after_round_{round_}_mb"] = round(rss_mb(pid), 1)
    return rows, memory


async def stream_latency(base: str, name: str, chunk_ms: float = 20.0) -> dict:
    """Stream the clip through ``name`` over the WebSocket, one chunk in flight at a time (as the
    demo page does): per-chunk round trip (send -> its tokens and audio back) and server compute."""
    import websockets

    from speechtok.audio import load_audio

    audio, sr = load_audio(CLIP)
    pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype("<i2")
    step = int(sr * chunk_ms / 1000)
    rtts, compute, lags = [], [], []
    url = base.replace("http://", "ws://") + f"/v1/stream?tokenizer={name}&sample_rate={sr}&format=s16le"
    async with websockets.connect(url, max_size=2**24) as ws:
        json.loads(await ws.recv())  # ready
        for pos in range(0, len(pcm), step):
            t0 = time.perf_counter()
            await ws.send(pcm[pos : pos + step].tobytes())
            m = json.loads(await ws.recv())
            rtts.append((time.perf_counter() - t0) * 1000)
            compute.append(m["compute_ms"])
            lags.append(m["lag_ms"])
        await ws.send('{"type": "end"}')
        while json.loads(await ws.recv())["type"] != "done":
            pass
    return {"tokenizer": name, "chunk_ms": chunk_ms, "chunks": len(rtts),
            "rtt_p50_ms": round(float(np.percentile(rtts, 50)), 2), "rtt_p99_ms": round(float(np.percentile(rtts, 99)), 2),
            "compute_p50_ms": round(float(np.percentile(compute, 50)), 2),
            "held_back_p50_ms": round(float(np.percentile(lags, 50)), 2)}


# ---- fuzz ---------------------------------------------------------------------------------------
def wav_bytes(audio, sr, subtype="PCM_16", fmt="WAV") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sr, subtype=subtype, format=fmt)
    return buf.getvalue()


def restamp(stok: bytes, edit) -> bytes:
    """A token file whose JSON header was changed by ``edit`` and whose checksum was recomputed,
    so only the deeper checks can catch it."""
    hlen = struct.unpack("<I", stok[10:14])[0]
    head = json.loads(stok[14 : 14 + hlen])
    edit(head)
    hbytes = json.dumps(head).encode()
    body = hbytes + stok[14 + hlen : -4]
    return stok[:8] + struct.pack("<HI", 1, len(hbytes)) + body + struct.pack("<I", zlib.crc32(body))


HEADER_EDITS = [
    lambda h: h.update(dtype="float64"), lambda h: h.update(shape=[15]), lambda h: h.update(shape=[15, 10**9]),
    lambda h: h.update(shape=[-1, 5]), lambda h: h.update(codebook_sizes=[0] * 15), lambda h: h.update(codebook_sizes="x"),
    lambda h: h.update(frame_rate=0), lambda h: h.update(frame_rate="nan"), lambda h: h.update(num_samples=-5),
    lambda h: h.update(num_samples=10**15), lambda h: h.update(sample_rate=0), lambda h: h.update(sample_rate=1),
    lambda h: h.update(tokenizer="../../../etc/passwd"), lambda h: h.update(tokenizer=None), lambda h: h.pop("tokenizer"),
    lambda h: h.update(extra=[1, 2]), lambda h: h.update(codebook_sizes=[2] * 15), lambda h: h.update(shape=[0, 0]),
    lambda h: h.update(num_samples=0),
]
JSON_EDITS = [
    lambda t: t.update(codes="abc"), lambda t: t.update(codes=[[[1]]]), lambda t: t.update(codes=[]),
    lambda t: t.update(codes=[[True] * 5] * 15), lambda t: t.update(codes=[[10**40] * 5] * 15), lambda t: t.update(codes=[[-1] * 5] * 15),
    lambda t: t.update(frame_rate=-1), lambda t: t.update(sample_rate="16k"), lambda t: t.update(num_samples=None),
    lambda t: t.update(codebook_sizes=[]), lambda t: t.pop("codes"), lambda t: t.update(tokenizer=["opus@6kbps"]),
    lambda t: t.update(extra="x"), lambda t: t.update(num_samples=10**9), lambda t: t.update(sample_rate=10**12),
]
CONTENT_TYPES = ["text/plain", "multipart/form-data; boundary=x", "application/json", "image/png",
                 "application/x-www-form-urlencoded", "audio", "", "audio/wav; charset=utf-8", "\x7f"]
NAMES = ["", "nope", "../../etc/passwd", "/etc/passwd", "speechtok/assets/models/speechtok-base", "~", ".",
         "opus@7.3kbps", "opus@1000kbps", "speechtok-base@0.7kbps", "codec2@9999", "é" * 50, "x" * 5000, "%00", "opus@6kbps\x00"]


def fuzz_cases(rng: random.Random, wav: bytes, stok: bytes, tokens_json: dict, n: int) -> list[tuple[str, dict]]:
    audio, sr = sf.read(io.BytesIO(wav), dtype="float32")
    kinds = {
        "truncated audio": lambda: {"url": "/v1/encode?tokenizer=opus@6kbps", "body": wav[: rng.randrange(0, 2000)], "ctype": "audio/wav"},
        "corrupted audio": lambda: {"url": "/v1/encode?tokenizer=opus@6kbps", "body": flip(rng, wav, rng.randrange(1, 40), head=True), "ctype": "audio/wav"},
        "random bytes as audio": lambda: {"url": "/v1/encode?tokenizer=speechtok-base", "body": rng.randbytes(rng.randrange(1, 50000)), "ctype": "audio/wav"},
        "odd audio": lambda: {"url": "/v1/encode?tokenizer=speechtok-base", "body": odd_audio(rng, audio, sr), "ctype": "audio/wav"},
        "wrong content type": lambda: {"url": "/v1/encode?tokenizer=opus@6kbps", "body": wav, "ctype": rng.choice(CONTENT_TYPES)},
        "wrong content type (decode)": lambda: {"url": "/v1/decode", "body": stok, "ctype": rng.choice(CONTENT_TYPES[:2] + CONTENT_TYPES[3:])},
        "corrupt token file": lambda: {"url": "/v1/decode", "body": rng.choice([stok[: rng.randrange(len(stok))], flip(rng, stok, rng.randrange(1, 8))]), "ctype": "application/x-speechtok"},
        "token file, bad header, valid checksum": lambda: {"url": "/v1/decode", "body": restamp(stok, rng.choice(HEADER_EDITS)), "ctype": "application/x-speechtok"},
        "mangled JSON tokens": lambda: {"url": "/v1/decode", "body": mangled_json(rng, tokens_json), "ctype": "application/json"},
        "wrong tokenizer": lambda: {"url": "/v1/encode", "params": {"tokenizer": rng.choice(NAMES)}, "body": wav, "ctype": "audio/wav"},
        "huge headers": lambda: {"url": "/v1/encode?tokenizer=opus@6kbps", "body": wav, "ctype": "audio/wav", "headers": huge_headers(rng)},
        "oversized body": lambda: {"url": "/v1/encode?tokenizer=opus@6kbps", "body": b"\0" * (10 * 1024 * 1024 + rng.randrange(1, 1000)), "ctype": "audio/wav"},
        "bad query": lambda: {"url": "/v1/encode", "params": {"tokenizer": "opus@6kbps", "format": rng.choice(["xml", "", "JSON", "stok" * 100])}, "body": wav, "ctype": "audio/wav"},
        "wrong method or path": lambda: {"method": rng.choice(["GET", "PUT", "DELETE", "PATCH"]), "url": rng.choice(["/v1/encode", "/v1/decode", "/v1/x", "/static/../app.py", "/v1/clips/../../etc.wav"])},
    }
    names = list(kinds)
    return [(k, kinds[k]()) for k in (names[i % len(names)] for i in range(n))]


def flip(rng: random.Random, data: bytes, count: int, head: bool = False) -> bytes:
    b = bytearray(data)
    span = min(len(b), 64) if head and rng.random() < 0.5 else len(b)
    for _ in range(count):
        b[rng.randrange(span)] = rng.randrange(256)
    return bytes(b)


def odd_audio(rng: random.Random, audio, sr) -> bytes:
    choice = rng.randrange(7)
    if choice == 0:  # a 1-sample file
        return wav_bytes(audio[:1], sr)
    if choice == 1:  # many channels
        return wav_bytes(np.tile(audio[:4000, None], (1, 64)), sr)
    if choice == 2:  # 8-bit unsigned at 8 kHz
        return wav_bytes(audio[::2], 8000, "PCM_U8")
    if choice == 3:  # float with values far outside [-1, 1]
        return wav_bytes(audio * 1e6, sr, "FLOAT")
    if choice == 4:  # a header claiming an absurd sample rate
        w = bytearray(wav_bytes(audio[:8000], sr))
        w[24:28] = struct.pack("<I", rng.choice([1, 999, 10**9]))
        return bytes(w)
    if choice == 5:  # infinities
        x = audio[:8000].copy()
        x[10] = np.inf
        return wav_bytes(x, sr, "FLOAT")
    return wav_bytes(np.zeros(16000 * 120, np.float32), sr, fmt="FLAC")  # 2 minutes of silence, small as FLAC


def mangled_json(rng: random.Random, tokens_json: dict) -> bytes:
    if rng.random() < 0.3:
        text = json.dumps(tokens_json)
        return rng.choice([text[: rng.randrange(len(text))], "[" * 100000, "null", '"x"', "1e999", "{" + "\"a\":{" * 5000]).encode()
    t = json.loads(json.dumps(tokens_json))
    rng.choice(JSON_EDITS)(t)
    return json.dumps(t).encode()


def huge_headers(rng: random.Random) -> dict:
    if rng.random() < 0.5:
        return {"X-Huge": "a" * rng.choice([20_000, 100_000, 1_000_000])}
    return {f"X-H{i}": "b" * 100 for i in range(rng.choice([200, 2000]))}


async def send_fuzz(client: httpx.AsyncClient, case: dict) -> str:
    headers = dict(case.get("headers") or {})
    if case.get("ctype") is not None:
        headers["Content-Type"] = case["ctype"]
    try:
        r = await client.request(case.get("method", "POST"), case["url"], params=case.get("params"),
                                 content=case.get("body"), headers=headers)
        return str(r.status_code)
    except httpx.HTTPError as e:
        return f"no answer ({type(e).__name__})"


async def fuzz_streams(base: str, rng: random.Random, n: int) -> list[tuple[str, str]]:
    """Bad WebSocket streams; the answer is the close code (1011 = a server error)."""
    import websockets

    ws_base = base.replace("http://", "ws://")
    out = []
    for i in range(n):
        query = rng.choice(["tokenizer=opus@6kbps", "tokenizer=speechtok-base", "tokenizer=nope", "tokenizer=opus@6kbps&format=x",
                            "tokenizer=opus@6kbps&sample_rate=-4", "tokenizer=opus@6kbps&sample_rate=44100&format=f32le", ""])
        sends = [rng.choice([rng.randbytes(rng.randrange(0, 3000)), "garbage", '{"type": "end"}', '{"type": 5}',
                             np.full(7, np.nan, "<f4").tobytes(), b"\x01"]) for _ in range(rng.randrange(1, 6))]
        try:
            async with websockets.connect(f"{ws_base}/v1/stream?{query}", max_size=2**24, open_timeout=10) as ws:
                for s in sends:
                    await ws.send(s)
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                except websockets.ConnectionClosed as e:
                    code = e.rcvd.code if e.rcvd else 1006
                except asyncio.TimeoutError:
                    code = "open after the test (idle)"
                    await ws.close()
        except websockets.ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd else 1006
        except (OSError, websockets.InvalidHandshake) as e:
            code = f"no answer ({type(e).__name__})"
        out.append(("bad stream", str(code)))
    return out


async def fuzz(base: str, n: int, seed: int, streams: int) -> tuple[list, dict]:
    rng = random.Random(seed)
    wav = CLIP.read_bytes()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        stok = (await client.post("/v1/encode?tokenizer=opus@6kbps&format=stok", content=wav, headers={"Content-Type": "audio/wav"})).content
        tokens_json = (await client.post("/v1/encode?tokenizer=opus@6kbps", content=wav, headers={"Content-Type": "audio/wav"})).json()
    cases = fuzz_cases(rng, wav, stok, tokens_json, n)
    results: list[tuple[str, str]] = []
    queue = asyncio.Queue()
    for c in cases:
        queue.put_nowait(c)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        async def worker():
            while not queue.empty():
                kind, case = queue.get_nowait()
                results.append((kind, await send_fuzz(client, case)))

        await asyncio.gather(*(worker() for _ in range(8)))
    results += await fuzz_streams(base, rng, streams)
    table: dict[str, dict[str, int]] = {}
    for kind, status in results:
        cls = status[0] + "xx" if status[:1].isdigit() and len(status) == 3 else ("1011 (server error)" if status == "1011" else status)
        if status.startswith("10") and status != "1011":
            cls = "closed 1000-1013"
        table.setdefault(kind, {})
        table[kind][cls] = table[kind].get(cls, 0) + 1
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        health = (await client.get("/healthz")).json()
    return results, {"by_kind": table, "health_after": health}


def direct_baseline(tokenizers: list[str], repeats: int = 5) -> dict:
    """Median ms of tok.encode / tok.decode called directly (no server), one thread: what a
    request costs before HTTP, queueing and the wav/.stok conversions."""
    import torch

    import speechtok
    from speechtok.audio import load_audio

    torch.set_num_threads(1)
    audio, sr = load_audio(CLIP)
    out = {}
    for name in tokenizers:
        tok = speechtok.load(name)
        tokens = tok.encode(audio, sr)
        enc, dec = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            tok.encode(audio, sr)
            t1 = time.perf_counter()
            tok.decode(tokens)
            enc.append(t1 - t0)
            dec.append(time.perf_counter() - t1)
        out[name] = {"encode_ms": round(float(np.median(enc)) * 1000, 1), "decode_ms": round(float(np.median(dec)) * 1000, 1)}
    return out


# ---- main ----------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizers", nargs="+", default=["opus@6kbps", "speechtok-base"])
    ap.add_argument("--clients", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--seconds", type=float, default=2.0, help="per phase (default 2)")
    ap.add_argument("--rounds", type=int, default=2, help="run every phase this many times (default 2)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--queue", type=int, default=32)
    ap.add_argument("--fuzz", type=int, default=420, help="malformed HTTP requests (default 420)")
    ap.add_argument("--fuzz-streams", type=int, default=30, help="malformed WebSocket streams (default 30)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stream-tokenizers", nargs="*", default=["opus@6kbps"], help="measure WebSocket latency through these")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args()

    baseline = direct_baseline(args.tokenizers)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()[0]
    t0 = time.time()
    proc = start_server(args.tokenizers, port, args.workers, args.queue)
    try:
        memory = {"after_start_mb": round(rss_mb(proc.pid), 1)}
        print(f"server up in {time.time() - t0:.1f} s, RSS {memory['after_start_mb']} MB; load test", flush=True)
        rows, mem = asyncio.run(load_test(base, proc.pid, args.tokenizers, args.clients, args.seconds, args.rounds))
        memory |= mem
        streaming = [asyncio.run(stream_latency(base, n)) for n in args.stream_tokenizers]
        print("fuzz", flush=True)
        fuzz_rows, fuzz_summary = asyncio.run(fuzz(base, args.fuzz, args.seed, args.fuzz_streams))
        memory["after_fuzz_mb"] = round(rss_mb(proc.pid), 1)
    finally:
        proc.terminate()
        proc.wait(20)
    total = {}
    for kind, counts in fuzz_summary["by_kind"].items():
        for cls, n in counts.items():
            total[cls] = total.get(cls, 0) + n
    result = {
        "command": "nice -n 10 python benchmarks/serve/loadtest.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "clip": f"{CLIP.name} ({sf.info(str(CLIP)).duration:.2f} s)",
        "server": {"workers": args.workers, "queue": args.queue, "tokenizers": args.tokenizers},
        "machine_load_average": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "direct_call_ms": baseline,
        "load": rows, "memory": memory, "streaming": streaming,
        "fuzz": {"requests": args.fuzz, "streams": args.fuzz_streams, "seed": args.seed, "total": total} | fuzz_summary,
        "wall_s": round(time.time() - t0, 1),
    }
    out = args.out / "results.json"
    write_atomic(out, lambda tmp: tmp.write_text(json.dumps(result, indent=1) + "\n"))
    print_tables(result)
    print(f"wrote {out}")
    return 0 if not any(k.startswith(("5", "1011")) for k in total) else 1


def print_tables(r: dict) -> None:
    print("\ndirect calls, no server (median ms):", ", ".join(
        f"{n} encode {v['encode_ms']} / decode {v['decode_ms']}" for n, v in r["direct_call_ms"].items()))
    print(f"machine load average (1 min) before / after: {r['machine_load_average']['before']} / {r['machine_load_average']['after']}")
    print("\n| round | tokenizer | op | clients | req/s | audio s/s | p50 ms | p99 ms | 503 busy | errors | RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in r["load"]:
        print(f"| {row['round']} | {row['tokenizer']} | {row['op']} | {row['clients']} | {row['rps']} | {row['audio_s_per_s']} | "
              f"{row['p50_ms']} | {row['p99_ms']} | {row['busy_503']} | {row['errors']} | {row['rss_mb']} |")
    for st in r["streaming"]:
        print(f"\nstreaming {st['tokenizer']}, {st['chunks']} chunks of {st['chunk_ms']:g} ms: round trip p50 {st['rtt_p50_ms']} ms, "
              f"p99 {st['rtt_p99_ms']} ms; server compute p50 {st['compute_p50_ms']} ms; audio held back p50 {st['held_back_p50_ms']} ms")
    print("\nmemory (RSS MB):", ", ".join(f"{k} {v}" for k, v in r["memory"].items()))
    classes = sorted({c for counts in r["fuzz"]["by_kind"].values() for c in counts})
    print("\n| fuzz kind | " + " | ".join(classes) + " |")
    print("|---|" + "---|" * len(classes))
    for kind, counts in r["fuzz"]["by_kind"].items():
        print(f"| {kind} | " + " | ".join(str(counts.get(c, 0)) for c in classes) + " |")
    print("| **total** | " + " | ".join(f"**{r['fuzz']['total'].get(c, 0)}**" for c in classes) + " |")
    h = r["fuzz"]["health_after"]
    print(f"\nafter the fuzz: /healthz {h['status']}, server-side internal errors {h['counts']['errors']}")


if __name__ == "__main__":
    sys.exit(main())
