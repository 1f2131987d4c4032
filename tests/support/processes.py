"""Helpers for tests that run servers as processes: a free port, and waiting for readiness."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp


def free_port() -> int:
    """A port free on 127.0.0.1 right now (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVE = [sys.executable, "-m", "proxy.cli", "serve"]


@contextmanager
def proxy_process(*args: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`guardrail-proxy serve ARGS` on a free port, its output in `tmp_path/proxy-PORT.log`;
    killed on exit if still running. Yields the process and its base URL."""
    port = free_port()
    with (tmp_path / f"proxy-{port}.log").open("wb") as log:
        proc = subprocess.Popen([*SERVE, "--port", str(port), *args], stdout=log, stderr=subprocess.STDOUT)
        try:
            yield proc, f"http://127.0.0.1:{port}"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


async def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll `url`/readyz until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the proxy exited during start-up"
            try:
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the proxy did not become ready")
