"""`guardrail-proxy serve` as a process: workers, signals, start-up failures."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web

from tests.support.processes import SERVE, proxy_process, wait_ready
from tests.support.servers import serve


async def chat(session: aiohttp.ClientSession, url: str, text: str, stream: bool = False) -> bytes:
    body = orjson.dumps({"model": "demo-echo", "stream": stream, "messages": [{"role": "user", "content": text}]})
    async with session.post(f"{url}/v1/chat/completions", data=body) as response:
        assert response.status == 200
        return await response.read()


async def worker_pids(session: aiohttp.ClientSession, url: str) -> set[str]:
    async with session.get(f"{url}/metrics") as response:
        text = await response.text()
    return {line.split('pid="')[1].split('"')[0] for line in text.splitlines() if line.startswith("guardrail_policy_terms")}


async def test_two_workers_report_summed_metrics(tmp_path: Path) -> None:
    with proxy_process("--demo", "--workers", "2", tmp_path=tmp_path) as (proc, url):
        await wait_ready(url, proc)
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 60  # the second worker may still be loading its policy
            while len(await worker_pids(session, url)) < 2:
                assert time.monotonic() < deadline, "both workers should report"
                await asyncio.sleep(0.2)
            for _ in range(20):  # new connections, spread over both workers by the kernel
                async with aiohttp.ClientSession() as fresh:
                    await chat(fresh, url, "mail a@b.com")
            async with session.get(f"{url}/metrics") as response:
                text = await response.text()
        assert 'guardrail_requests_total{model="demo-echo",route="chat/completions",status="200",tenant="-"} 20.0' in text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


@asynccontextmanager
async def slow_upstream(chunks: int, delay: float) -> AsyncIterator[str]:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "slow"}
        for i in range(chunks):
            choice = {"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}
            await response.write(b"data: " + orjson.dumps({**base, "choices": [choice]}) + b"\n\n")
            await asyncio.sleep(delay)
        done = {"index": 0, "delta": {}, "finish_reason": "stop"}
        await response.write(b"data: " + orjson.dumps({**base, "choices": [done]}) + b"\n\ndata: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", stream)
    async with serve(app) as url:
        yield f"{url}/v1"


async def test_workers_end_with_a_killed_supervisor(tmp_path: Path) -> None:
    """`kill -9` of the supervisor (an OOM kill, a test's cleanup) ends its workers too: none is
    left serving on the port on its own (found orphaned after the start-up signal tests)."""
    with proxy_process("--demo", "--workers", "2", tmp_path=tmp_path) as (proc, url):
        await wait_ready(url, proc)
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 10
            while len(pids := await worker_pids(session, url)) < 2:
                assert time.monotonic() < deadline, "the second worker did not answer"
                await asyncio.sleep(0.1)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while alive := [pid for pid in map(int, pids) if _alive(pid)]:
            assert time.monotonic() < deadline, f"workers {alive} outlived the supervisor"
            await asyncio.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie: dead, waiting for its (gone) parent's wait
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


async def test_sigterm_drains_in_flight_streams_and_exits_zero(tmp_path: Path) -> None:
    async with slow_upstream(chunks=30, delay=0.05) as upstream:
        with proxy_process("--upstream", upstream, "--workers", "1", "--drain-seconds", "0.5", tmp_path=tmp_path) as (proc, url):
            await wait_ready(url, proc)
            async with aiohttp.ClientSession() as session:
                in_flight = asyncio.create_task(chat(session, url, "hi", stream=True))
                await asyncio.sleep(0.3)
                proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.1)
                async with session.get(f"{url}/readyz") as response:
                    assert response.status == 503
                body = await in_flight
            assert body.endswith(b"data: [DONE]\n\n") and b"w29 " in body
            assert await asyncio.to_thread(proc.wait, 30) == 0


async def test_sighup_reloads_the_policy(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    words = tmp_path / "words.txt"
    words.write_text("alpha\n", encoding="utf-8")
    policy.write_text("name: p\nversion: '1'\ndetectors:\n  w: {type: keywords, files: [{path: words.txt, category: A.1.h}]}\n"
                      "prompt:\n  - {id: block-w, detector: w, action: block}\n", encoding="utf-8")
    with proxy_process("--demo", "--workers", "1", "--config", str(policy), "--reload-interval", "0",
                       tmp_path=tmp_path) as (proc, url):
        await wait_ready(url, proc)
        words.write_text("alpha\nbravo\n", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 10
            while True:
                body = orjson.dumps({"messages": [{"role": "user", "content": "bravo"}]})
                async with session.post(f"{url}/v1/chat/completions", data=body) as response:
                    if response.status == 400:
                        break
                assert time.monotonic() < deadline, "SIGHUP did not reload"
                await asyncio.sleep(0.1)


@pytest.mark.parametrize(("workers", "first", "gap", "signals"), [("1", 0.5, 0.5, 3), ("2", 0.12, 0.02, 25)])
async def test_sighup_while_starting_is_not_fatal(
    tmp_path: Path, workers: str, first: float, gap: float, signals: int
) -> None:
    """Review: SIGHUP's default action ended a proxy still loading Presidio (exit 129), and with
    two workers, signals forwarded while a worker's Python was starting stopped the supervisor.
    A config reloader signals right after a deploy; the proxy reloads once it serves."""
    with proxy_process("--demo", "--workers", workers, tmp_path=tmp_path) as (proc, url):
        await asyncio.sleep(first - gap)
        for _ in range(signals):
            await asyncio.sleep(gap)
            proc.send_signal(signal.SIGHUP)
        await wait_ready(url, proc)
        async with aiohttp.ClientSession() as session:
            assert b"<EMAIL_ADDRESS>" in await chat(session, url, "mail li.lei@example.com")
        log = next(tmp_path.glob("proxy-*.log"))
        deadline = time.monotonic() + 10
        while b"policy reloaded (SIGHUP)" not in log.read_bytes():
            assert time.monotonic() < deadline, "the SIGHUP sent while starting was not honoured"
            await asyncio.sleep(0.1)
        assert proc.poll() is None
        assert b"exited with" not in log.read_bytes()  # no worker died of one either


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--demo", "--config", "/nonexistent/policy.yaml"], "policy file not found"),
        (["--demo", "--audit-path", "/proc/forbidden/audit.jsonl"], "cannot write the audit trail"),
        ([], "give --upstream"),
    ],
)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_bad_start_up_says_why_and_exits_2(args: list[str], message: str, workers: str) -> None:
    env_free = subprocess.run([*SERVE, "--workers", workers, *args], capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "GUARDRAIL_AUDIT_SALT": "s"})
    assert env_free.returncode == 2
    assert message in env_free.stderr
    assert "Traceback" not in env_free.stderr
