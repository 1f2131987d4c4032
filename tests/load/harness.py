"""The proxy as a real process under load, and what the load tests measure of it.

* `proxy_process` runs `python -m proxy.cli serve --workers 1 ...` (one process, so its pid is
  the proxy's and `/proc/<pid>/status` is its memory); `wait_ready` waits for `/readyz`.
* `RssSampler` reads the process's VmRSS every `period` seconds in the background.
* `open_files_limit` raises RLIMIT_NOFILE for this process; children inherit it at fork, so a
  proxy started inside the block gets the same limit (no `preexec_fn`, which is unsafe once
  threads exist).
* `listen` serves an aiohttp app on 127.0.0.1 with a deep accept queue (1,000 connections may
  arrive within a second).
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.support import processes


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` in MiB (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@contextmanager
def open_files_limit(wanted: int) -> Iterator[int]:
    """Raise the soft RLIMIT_NOFILE to `wanted` (at most the hard limit); yields the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = soft if soft >= wanted else (wanted if hard == resource.RLIM_INFINITY else min(wanted, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    try:
        yield target
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextmanager
def proxy_process(*args: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """One quiet worker (`--workers 1 --log-level WARNING`), as `processes.proxy_process` runs it."""
    with processes.proxy_process("--workers", "1", "--log-level", "WARNING", *args, tmp_path=tmp_path) as running:
        yield running


def proxy_log(tmp_path: Path) -> str:
    """The proxy's output, for assertion messages."""
    return "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("proxy-*.log"))


@dataclass
class RssSampler:
    """VmRSS of `pid` every `period` seconds, as (seconds since start, MiB), while running."""

    pid: int
    period: float = 0.1
    max_samples: int = 10_000
    samples: list[tuple[float, float]] = field(default_factory=list, repr=False)
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def _run(self) -> None:
        start = time.monotonic()
        for _ in range(self.max_samples):
            self.samples.append((time.monotonic() - start, rss_mib(self.pid)))
            await asyncio.sleep(self.period)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RssSampler]:
        self._task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def between(self, start: float, end: float) -> list[float]:
        return [rss for t, rss in self.samples if start <= t <= end]

    def curve(self, points: int = 12) -> str:
        """A few samples spread over the run, for assertion messages: '0.0s 87.9, 0.8s 92.5, ...'."""
        step = max(1, len(self.samples) // points)
        return ", ".join(f"{t:.1f}s {rss:.1f}" for t, rss in self.samples[::step])

    @property
    def peak(self) -> float:
        return max(rss for _, rss in self.samples)


@asynccontextmanager
async def listen(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 on a free port with an accept queue of 2048; yields its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def metric(text: str, name: str) -> float:
    """The value of the unlabelled sample `name` in a Prometheus text exposition."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")
