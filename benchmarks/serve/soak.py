"""Soak run of `speechtok serve`: mixed requests from 8 clients for --seconds, the server's memory
sampled all along (issue 20: memory stays flat; slow clients cannot hold the server).

    nice -n 10 python benchmarks/serve/soak.py                  # 60 s (the default)
    nice -n 10 python benchmarks/serve/soak.py --seconds 600 --out benchmarks/serve   # the 10-minute soak

Each client loops over a random mix: encode the shipped clip (opus@6kbps and speechtok-base),
decode its token file, a malformed request from loadtest.py's fuzz kinds, a health check. Beside
them, --slow connections trickle their request headers a byte every second (slowloris). Every
--every seconds the server's RSS is read from /proc. Prints the RSS curve, requests per kind and
status, and the number of 5xx (goal: 0); with --out, writes OUT/soak.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import CLIP, fuzz_cases, free_port, rss_mb, send_fuzz, start_server  # noqa: E402


async def client_loop(base: str, rng: random.Random, wav: bytes, stok: bytes, tokens_json: dict, until: float, counts: dict):
    fuzz = fuzz_cases(rng, wav, stok, tokens_json, 200)
    kinds = ["encode opus", "encode speechtok-base", "decode", "fuzz", "health"]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        while time.time() < until:
            kind = rng.choice(kinds)
            try:
                if kind == "encode opus":
                    r = await client.post("/v1/encode?tokenizer=opus@6kbps&format=stok", content=wav, headers={"Content-Type": "audio/wav"})
                elif kind == "encode speechtok-base":
                    r = await client.post("/v1/encode?tokenizer=speechtok-base", content=wav, headers={"Content-Type": "audio/wav"})
                elif kind == "decode":
                    r = await client.post("/v1/decode", content=stok, headers={"Content-Type": "application/x-speechtok"})
                elif kind == "health":
                    r = await client.get("/healthz")
                else:
                    status = await send_fuzz(client, rng.choice(fuzz)[1])
                    counts.setdefault(kind, {}).setdefault(status, 0)
                    counts[kind][status] += 1
                    continue
                status = str(r.status_code)
            except httpx.HTTPError as e:
                status = f"no answer ({type(e).__name__})"
            counts.setdefault(kind, {}).setdefault(status, 0)
            counts[kind][status] += 1


async def slow_client(port: int, until: float, dropped: list) -> None:
    """Sends a request head one byte a second; counts how often the server drops it."""
    head = b"GET /healthz HTTP/1.1\r\nHost: soak\r\nX-Slow: " + b"a" * 4096
    while time.time() < until:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for byte in head:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1.0)
                if reader.at_eof() or time.time() > until:
                    break
            dropped.append(reader.at_eof())
        except (ConnectionError, OSError):
            dropped.append(True)
        finally:
            writer.close()


async def soak(port: int, pid: int, seconds: float, clients: int, slow: int, every: float, seed: int) -> dict:
    base = f"http://127.0.0.1:{port}"
    wav = CLIP.read_bytes()
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        stok = (await c.post("/v1/encode?tokenizer=opus@6kbps&format=stok", content=wav, headers={"Content-Type": "audio/wav"})).content
        tokens_json = (await c.post("/v1/encode?tokenizer=opus@6kbps", content=wav, headers={"Content-Type": "audio/wav"})).json()
    t0 = time.time()
    until = t0 + seconds
    counts: dict = {}
    dropped: list = []
    curve = [(0.0, round(rss_mb(pid), 1))]

    async def sample():
        while time.time() < until:
            await asyncio.sleep(min(every, max(0.0, until - time.time())))
            curve.append((round(time.time() - t0, 1), round(rss_mb(pid), 1)))

    await asyncio.gather(sample(), *(client_loop(base, random.Random(seed + i), wav, stok, tokens_json, until, counts)
                                     for i in range(clients)), *(slow_client(port, until, dropped) for _ in range(slow)))
    fivexx = sum(n for statuses in counts.values() for s, n in statuses.items() if s.startswith("5") and s != "503")
    return {"seconds": seconds, "clients": clients, "rss_mb": curve, "requests": counts, "5xx_other_than_503": fivexx,
            "slow_connections": len(dropped), "slow_connections_dropped_by_server": sum(dropped)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the soak (default 60; the issue's soak is 600)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--slow", type=int, default=4, help="slowloris connections beside the clients")
    ap.add_argument("--every", type=float, default=5.0, help="seconds between RSS samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="write OUT/soak.json")
    args = ap.parse_args()
    port = free_port()
    server = start_server(["opus@6kbps", "speechtok-base"], port, workers=2, queue=32)
    try:
        r = asyncio.run(soak(port, server.pid, args.seconds, args.clients, args.slow, args.every, args.seed))
    finally:
        server.terminate()
        server.wait(30)
    print("RSS MB over time:", " ".join(f"{t:g}s:{m:g}" for t, m in r["rss_mb"]))
    for kind, statuses in sorted(r["requests"].items()):
        print(f"{kind:24} {json.dumps(statuses, sort_keys=True)}")
    print(f"5xx other than 503: {r['5xx_other_than_503']}; slow connections dropped: "
          f"{r['slow_connections_dropped_by_server']} of {r['slow_connections']}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "soak.json").write_text(json.dumps(r, indent=1) + "\n")
    return 1 if r["5xx_other_than_503"] else 0


if __name__ == "__main__":
    sys.exit(main())
