"""Several worker processes on one port: a small supervisor around `serve`.

Each worker is a full proxy process bound with SO_REUSEPORT, so the kernel spreads connections
over them. Metrics use prometheus-client's multiprocess mode (one shared directory), so any
worker's `/metrics` reports the sum over all workers. The supervisor forwards SIGTERM (drain
and stop) and SIGHUP (reload the policy) to every worker and restarts a worker that dies.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from types import FrameType

log = logging.getLogger(__name__)

MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0


class Supervisor:
    def __init__(self, worker_argv: Sequence[str], workers: int) -> None:
        self.worker_argv = list(worker_argv)
        self.workers = workers
        self.metrics_dir = tempfile.mkdtemp(prefix="guardrail-metrics-")
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping = False
        self.restarts: list[float] = []

    def _spawn(self) -> None:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
        # The worker starts with SIGHUP blocked (the mask is inherited) until it has a handler:
        # one forwarded while Python starts would end it, and too many such ends stop us (review).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            child = subprocess.Popen([sys.executable, "-m", "proxy.cli", *self.worker_argv], env=env,
                                     preexec_fn=_end_with_parent)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        self.children[child.pid] = child

    def _forward(self, signum: int, frame: FrameType | None) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopping = True
        for child in self.children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._forward)
        try:
            for _ in range(self.workers):
                self._spawn()
            return self._watch()
        finally:
            for child in self.children.values():
                if child.poll() is None:
                    child.kill()
                child.wait()
            shutil.rmtree(self.metrics_dir, ignore_errors=True)

    def _watch(self) -> int:
        """Wait for workers; restart the ones that die unless stopping or dying too often."""
        worst = 0
        while self.children:
            pid, status = os.wait()
            child = self.children.pop(pid, None)
            if child is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            child.returncode = code
            worst = worst or (code if code > 0 else 0)
            self._mark_dead(pid)
            if self.stopping:
                continue
            if code == 2:  # a configuration error: every worker would fail the same way
                log.error("a worker refused its configuration; stopping")
                self._forward(signal.SIGTERM, None)
                return 2
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_SECONDS] + [now]
            if len(self.restarts) > MAX_RESTARTS:
                log.error("workers keep dying (last exit code %s); stopping", code)
                self._forward(signal.SIGTERM, None)
                return 1
            log.warning("worker %d exited with %s; starting another", pid, code)
            self._spawn()
        return worst

    def _mark_dead(self, pid: int) -> None:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, self.metrics_dir)  # type: ignore[no-untyped-call]


def _end_with_parent() -> None:
    """In a new worker, before it runs: SIGTERM when the supervisor dies, however it dies
    (`kill -9` included), so no worker is left serving on the port on its own. Linux only
    (`prctl`); elsewhere a worker outlives a killed supervisor."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


_PR_SET_PDEATHSIG = 1
