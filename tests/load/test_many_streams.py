"""1,000 concurrent streams held open through one proxy process, with bounded memory.

The proxy (`serve --workers 1`, the default pack) sits in front of an upstream that streams
slowly. One aiohttp session opens 1,000 streams within a second and reads them all at once.
The upstream sends each stream's first chunk, holds it until all 1,000 have arrived (so they
are all open at the same time however slow the machine is), then sends 30 more chunks, one
every 100 ms. Every stream must arrive whole (its own text, `finish_reason` stop, `[DONE]`);
`guardrail_active_streams`, scraped while the upstream holds them, must read 1,000, and 0
afterwards; the proxy's RSS is sampled every 100 ms and its growth per stream bounded. A
second wave of 1,000 must not need more memory than the first (nothing kept per stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from tests.load.harness import (
    RssSampler,
    listen,
    metric,
    open_files_limit,
    proxy_log,
    proxy_process,
    rss_mib,
)
from tests.support.processes import wait_ready

STREAMS = 1_000
CHUNKS = 30
CHUNK_EVERY = 0.1  # seconds: each stream is held open ~3 s
RAMP_SECONDS = 1.0  # open the streams over this time, not in one burst at the accept queue
PER_STREAM_LIMIT_KIB = 96  # peak RSS growth per concurrent stream (measured: ~30 KiB)
WAVE_GROWTH_LIMIT_MIB = 16  # the second wave's peak above the first's (measured: ~2 MiB)


def expected_text(n: int, chunks: int = CHUNKS) -> str:
    return f"stream {n} says" + "".join(f" w{i}" for i in range(chunks))


@dataclass
class Gate:
    """Holds each stream of a wave after its first chunk until all `size` of them are open."""

    size: int
    arrived: int = 0
    all_open: asyncio.Event = field(default_factory=asyncio.Event)


GATES = web.AppKey("gates", dict[str, Gate])


async def slow_chat(request: web.Request) -> web.StreamResponse:
    """For a prompt 'wave n chunks': the first delta, the wave's gate, then one delta per CHUNK_EVERY."""
    body = orjson.loads(await request.read())
    wave, n_text, chunks_text = body["messages"][-1]["content"].split()
    n, chunks = int(n_text), int(chunks_text)
    base = {"id": f"chatcmpl-{n}", "object": "chat.completion.chunk", "created": 1, "model": "slow"}

    def event(content: str | None) -> bytes:
        delta, finish = ({"content": content}, None) if content is not None else ({}, "stop")
        return b"data: " + orjson.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}) + b"\n\n"

    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(event(f"stream {n} says"))
    gate = request.app[GATES][wave]
    gate.arrived += 1
    if gate.arrived == gate.size:
        gate.all_open.set()
    with contextlib.suppress(TimeoutError):  # bounded: a wave that never fills fails on its gauge reading
        await asyncio.wait_for(gate.all_open.wait(), timeout=30)
    for i in range(chunks):
        await asyncio.sleep(CHUNK_EVERY)
        await response.write(event(f" w{i}"))
    await response.write(event(None) + b"data: [DONE]\n\n")
    return response


def stream_problem(n: int, chunks: int, status: int, raw: bytes) -> str | None:
    if status != 200:
        return f"status {status}: {raw[:200]!r}"
    if not raw.endswith(b"data: [DONE]\n\n"):
        return f"no [DONE]: {raw[-200:]!r}"
    choices = [c for e in raw.split(b"\n\n") if e.startswith(b"data: {") for c in orjson.loads(e[6:])["choices"]]
    text = "".join(c["delta"].get("content") or "" for c in choices)
    if text != expected_text(n, chunks) or choices[-1]["finish_reason"] != "stop":
        return f"wrong answer {text[:80]!r}…, finish {choices[-1]['finish_reason']}"
    return None


async def open_streams(
    session: aiohttp.ClientSession, url: str, gates: dict[str, Gate], wave: str, count: int, chunks: int, ramp: float,
) -> list[str]:
    """`count` streams, started evenly over `ramp` seconds and read concurrently; the problems found."""
    gates.setdefault(wave, Gate(count))

    async def one(n: int) -> str | None:
        await asyncio.sleep(ramp * n / count)
        prompt = f"{wave} {n} {chunks}"
        body = orjson.dumps({"model": "slow", "stream": True, "messages": [{"role": "user", "content": prompt}]})
        try:
            async with session.post(f"{url}/v1/chat/completions", data=body) as response:
                return stream_problem(n, chunks, response.status, await response.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"stream {n}: {type(exc).__name__}: {exc}"

    return [p for p in await asyncio.gather(*(one(n) for n in range(count))) if p]


async def active_streams(url: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        return metric(await response.text(), "guardrail_active_streams")


@dataclass
class Wave:
    problems: list[str]
    gauge_while_open: float  # guardrail_active_streams once every stream of the wave was open
    rss: RssSampler
    seconds: float


async def wave(session: aiohttp.ClientSession, url: str, pid: int, gates: dict[str, Gate], name: str) -> Wave:
    """STREAMS streams at once; the gauge is read while the upstream holds them all open."""
    started = time.monotonic()
    async with RssSampler(pid, period=0.1).running() as rss:
        gates[name] = Gate(STREAMS)
        streams = asyncio.create_task(open_streams(session, url, gates, name, STREAMS, CHUNKS, RAMP_SECONDS))
        opened = asyncio.create_task(gates[name].all_open.wait())
        await asyncio.wait({opened, streams}, timeout=60, return_when=asyncio.FIRST_COMPLETED)  # streams: all failed
        opened.cancel()
        deadline = time.monotonic() + 2.0  # the proxy counts a stream once it has read its upstream headers
        while (gauge := await active_streams(url)) < STREAMS and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        problems = await asyncio.wait_for(streams, timeout=120)
    return Wave(problems, gauge, rss, time.monotonic() - started)


async def settle_to_zero(url: str, timeout: float = 10) -> float:
    deadline = time.monotonic() + timeout
    while (value := await active_streams(url)) != 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return value


async def test_a_thousand_concurrent_streams_with_bounded_memory(tmp_path: Path) -> None:
    app = web.Application()
    gates: dict[str, Gate] = {}
    app[GATES] = gates
    app.router.add_post("/v1/chat/completions", slow_chat)
    # 1,000 client sockets + 1,000 upstream server sockets here; as many again in the proxy.
    with open_files_limit(8 * STREAMS) as nofile:
        assert nofile >= 3 * STREAMS, f"RLIMIT_NOFILE hard limit {nofile} is too low for {STREAMS} streams"
        async with listen(app) as upstream:
            with proxy_process("--upstream", f"{upstream}/v1", tmp_path=tmp_path) as (proc, url):
                await wait_ready(url, proc)
                connector = aiohttp.TCPConnector(limit=STREAMS + 10)
                async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
                    assert await open_streams(session, url, gates, "warm", 50, 2, 0.2) == []  # code paths, pools
                    baseline = rss_mib(proc.pid)
                    first = await wave(session, url, proc.pid, gates, "first")
                    assert not first.problems, (f"{len(first.problems)} of {STREAMS} streams failed, "
                                                f"e.g. {first.problems[:3]}\n{proxy_log(tmp_path)}")
                    assert await settle_to_zero(url) == 0, "guardrail_active_streams should return to 0"
                    after = rss_mib(proc.pid)
                    second = await wave(session, url, proc.pid, gates, "second")
                    assert not second.problems, f"second wave: {len(second.problems)} failed, e.g. {second.problems[:3]}"
                    assert await settle_to_zero(url) == 0
                assert proc.poll() is None

    grown = first.rss.peak - baseline
    per_stream_kib = grown * 1024 / STREAMS
    print(f"\n{STREAMS} streams in {first.seconds:.1f} s (second wave {second.seconds:.1f} s); gauge with all open "
          f"{first.gauge_while_open:.0f} / {second.gauge_while_open:.0f}; proxy RSS {baseline:.1f} MiB before, peak "
          f"{first.rss.peak:.1f} MiB (+{grown:.1f} MiB, {per_stream_kib:.0f} KiB per stream), {after:.1f} MiB after; "
          f"second wave peak {second.rss.peak:.1f} MiB")
    assert first.gauge_while_open == second.gauge_while_open == STREAMS
    assert per_stream_kib < PER_STREAM_LIMIT_KIB, f"{per_stream_kib:.0f} KiB per stream: {first.rss.curve()}"
    assert second.rss.peak - first.rss.peak < WAVE_GROWTH_LIMIT_MIB, (
        f"second wave {second.rss.curve()} vs first {first.rss.curve()}")
