"""A real Prometheus (Debian's package, scrape interval 1 s) scrapes the running proxy while
traffic flows, and answers queries on block and redact counts; `promtool check metrics` passes."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import aiohttp
import orjson

from tests.support.prometheus import PrometheusServer
from tests.support.servers import Stack


async def send(session: aiohttp.ClientSession, stack: Stack, text: str) -> int:
    body = orjson.dumps({"model": "demo-echo", "messages": [{"role": "user", "content": text}]})
    async with session.post(f"{stack.base_url}/chat/completions", data=body) as response:
        await response.read()
        return response.status


def value(result: list[dict[str, object]]) -> float:
    return sum(float(r["value"][1]) for r in result)  # type: ignore[index]


async def test_prometheus_scrapes_and_counts_move(stack: Stack) -> None:
    target = stack.url.removeprefix("http://")
    redacts = 'sum(guardrail_decisions_total{action="redact",rule="redact-pii"})'
    blocks = 'sum(guardrail_decisions_total{action="block",category="A.1.h"})'
    with PrometheusServer([target]) as prom:
        async with aiohttp.ClientSession() as session:
            assert await send(session, stack, "mail me at li.lei@example.com") == 200
            assert await send(session, stack, "网络赌博") == 400
            first = await asyncio.to_thread(prom.wait_for, redacts, lambda r: value(r) >= 1, 30)
            assert await asyncio.to_thread(prom.wait_for, blocks, lambda r: value(r) >= 1, 30)
            for _ in range(3):
                assert await send(session, stack, "手机 13812345678") == 200
            moved = await asyncio.to_thread(prom.wait_for, redacts, lambda r: value(r) >= value(first) + 3, 30)
            assert value(moved) >= 4
            up = await asyncio.to_thread(prom.query, "up")
            assert [r["value"][1] for r in up] == ["1"]
            latency = await asyncio.to_thread(
                prom.wait_for, "sum(guardrail_guard_duration_seconds_count)", lambda r: value(r) > 0, 30)
            assert value(latency) > 0


async def test_promtool_check_metrics_passes(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        await send(session, stack, "mail me at li.lei@example.com")
        async with session.get(f"{stack.url}/metrics") as response:
            exposition = await response.read()
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: apt-get install -y prometheus (bash scripts/test does this)"
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
