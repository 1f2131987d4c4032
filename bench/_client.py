"""A bounded aiohttp load client, run as its own process by the benchmarks.

    python bench/_client.py URL BODY_FILE --requests N [--concurrency C] [--seconds S] [--stream]

Sends at most N requests (and stops after S seconds), C at a time over C keep-alive
connections, and prints one JSON object: per-request latency (to the last byte), time to
first token for streams (the first event whose `delta.content` is not empty), errors, and
the wall time. With --stream every response must end with `data: [DONE]`.
"""

from __future__ import annotations

import os
import sys

# bench/ goes last on the import path, so no script here can shadow a standard module:
# search bench/ last (it still finds `_common`).
if os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.append(sys.path.pop(0))

import argparse
import asyncio
import sys
import time

import aiohttp
import orjson

FIRST_TOKEN = b'"content":"'


def first_token_at(buffer: bytes) -> bool:
    """Whether `buffer` holds an event with a non-empty content delta."""
    at = buffer.find(FIRST_TOKEN)
    while at >= 0:
        end = at + len(FIRST_TOKEN)
        if end < len(buffer) and buffer[end : end + 1] != b'"':
            return True
        at = buffer.find(FIRST_TOKEN, end)
    return False


async def one(session: aiohttp.ClientSession, url: str, body: bytes, stream: bool) -> tuple[float, float | None]:
    started = time.perf_counter()
    ttft = None
    async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {(await response.read())[:200]!r}")
        if not stream:
            await response.read()
            return time.perf_counter() - started, None
        seen = tail = b""
        async for chunk in response.content.iter_any():
            if ttft is None:
                seen += chunk
                if first_token_at(seen):
                    ttft = time.perf_counter() - started
            tail = (tail + chunk)[-64:]
        if not tail.rstrip().endswith(b"data: [DONE]"):
            raise RuntimeError(f"stream did not end with [DONE]: {tail[-80:]!r}")
    return time.perf_counter() - started, ttft


async def run(args: argparse.Namespace) -> dict[str, object]:
    with open(args.body, "rb") as f:
        body = f.read()
    latencies: list[float] = []
    ttfts: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + args.seconds
    remaining = args.requests

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            try:
                latency, ttft = await one(session, args.url, body, args.stream)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            latencies.append(latency)
            if ttft is not None:
                ttfts.append(ttft)

    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await one(session, args.url, body, args.stream)  # warm the connection
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
        wall = time.perf_counter() - started
    return {"latencies": latencies, "ttfts": ttfts, "errors": errors[:5], "error_count": len(errors), "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("body")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    sys.stdout.write(orjson.dumps(asyncio.run(run(args))).decode() + "\n")


if __name__ == "__main__":
    main()
