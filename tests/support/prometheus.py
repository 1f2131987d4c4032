"""A real Prometheus server (Debian's ``/usr/bin/prometheus``) in a subprocess, for tests.

It scrapes the given ``host:port`` targets every second and evaluates rule files every
second, so tests can check metric names, PromQL and alert expressions against what a
real Prometheus does with them::

    with PrometheusServer(["127.0.0.1:8080"], rule_files=[Path("deploy/prometheus/alerts.yml")]) as prom:
        prom.wait_for('up{job="guardrail-proxy"}', lambda r: bool(r) and r[0]["value"][1] == "1")
        prom.query("sum(guardrail_requests_total)")

There is no skip: without the binary it raises, telling how to install it (CI installs it
in ``.ci/run``). Only the standard library talks to it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tests.support.processes import free_port

DEFAULT_BINARY = "/usr/bin/prometheus"
JOB = "guardrail-proxy"


class PrometheusError(RuntimeError):
    """Prometheus did not start, or answered an API call with an error."""


class PrometheusQueryError(PrometheusError):
    """The query API refused an expression (``errorType`` is e.g. ``bad_data`` for a parse error)."""

    def __init__(self, expr: str, error_type: str, error: str) -> None:
        super().__init__(f"{error_type}: {error} (query: {expr})")
        self.expr = expr
        self.error_type = error_type
        self.error = error


def find_prometheus(binary: str | os.PathLike[str] | None = None) -> Path:
    """The prometheus binary to run, or a `PrometheusError` that says how to install it."""
    candidate = Path(binary) if binary is not None else Path(DEFAULT_BINARY)
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    on_path = shutil.which("prometheus") if binary is None else None
    if on_path:
        return Path(on_path)
    raise PrometheusError(
        f"prometheus binary not found at {candidate} nor on PATH: run "
        "`apt-get install -y --no-install-recommends prometheus` (Debian; it also brings promtool)"
    )


class PrometheusServer:
    """Context manager owning one Prometheus subprocess on 127.0.0.1 with its own storage.

    ``targets`` are ``host:port`` strings scraped at ``/metrics`` under job ``job``; scrape
    interval, scrape timeout and evaluation interval are all 1 s. ``rule_files`` are loaded as
    given (copy them nowhere: absolute paths are written into the config).
    """

    def __init__(
        self,
        targets: Sequence[str] = (),
        *,
        rule_files: Sequence[Path | str] = (),
        job: str = JOB,
        metrics_path: str = "/metrics",
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.targets = list(targets)
        self.rule_files = [Path(f).resolve() for f in rule_files]
        self.job = job
        self.metrics_path = metrics_path
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.url = ""  # http://127.0.0.1:PORT once started
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log: IO[bytes] | None = None
        self.log_path: Path | None = None

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def config(self) -> dict[str, Any]:
        """The prometheus.yml this server runs with (JSON is valid YAML)."""
        return {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(f) for f in self.rule_files],
            "scrape_configs": [
                {
                    "job_name": self.job,
                    "metrics_path": self.metrics_path,
                    "static_configs": [{"targets": self.targets}] if self.targets else [],
                }
            ],
        }

    def start(self) -> None:
        """Write the config, start Prometheus, and block until ``/-/ready`` answers 200."""
        if self._proc is not None:
            raise RuntimeError("PrometheusServer already started")
        binary = find_prometheus(self.binary)
        self._tmp = tempfile.TemporaryDirectory(prefix="prometheus-test-")
        tmp = Path(self._tmp.name)
        config_path = tmp / "prometheus.yml"
        config_path.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        self.log_path = tmp / "prometheus.log"
        self._log = self.log_path.open("w+b")
        try:
            # The port is picked before Prometheus binds it; retry if another process won the race.
            for _attempt in range(3):
                port = free_port()
                self.url = f"http://127.0.0.1:{port}"
                self._proc = subprocess.Popen(
                    [
                        str(binary),
                        f"--config.file={config_path}",
                        f"--storage.tsdb.path={tmp / 'data'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                        "--log.level=info",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=self._log,
                    stderr=subprocess.STDOUT,
                    cwd=tmp,
                    # Own process group: a terminal's Ctrl-C reaches pytest only, which stops
                    # the server in teardown.
                    start_new_session=True,
                )
                if self._wait_ready(time.monotonic() + self.startup_timeout):
                    return
                if "address already in use" not in self.log_tail():
                    raise self._fail("exited before it was ready")
                self._terminate()
            raise self._fail("could not bind a free port in 3 attempts")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM (Prometheus flushes and exits), SIGKILL after ``stop_timeout``; remove its files."""
        self._terminate()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self.log_path = None
        self.url = ""

    def log_tail(self, max_bytes: int = 4000) -> str:
        """The last bytes of Prometheus's log (it logs to stderr)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - max_bytes))
            return f.read().decode("utf-8", "replace")

    # -- HTTP API -----------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``; an error answer raises.

        A refused query raises `PrometheusQueryError` carrying Prometheus's ``errorType``.
        """
        if not self.url:
            raise RuntimeError("PrometheusServer is not running")
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = json.load(resp)
        except urllib.error.HTTPError as e:
            # 400/422/503 carry a JSON error body; read it, then close (an unclosed
            # HTTPError would raise a ResourceWarning later).
            with e:
                try:
                    body = json.load(e)
                except ValueError:
                    raise PrometheusError(f"GET {url}: HTTP {e.code}") from None
        if body.get("status") != "success":
            raise PrometheusQueryError(params.get("query", path), body.get("errorType", "?"), body.get("error", "?"))
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query; the result as a list of ``{"metric": {...}, "value": [ts, "v"]}``.

        A scalar or string result comes back as one entry with an empty ``metric``.
        """
        params = {"query": expr}
        if at is not None:
            params["time"] = repr(at)
        data = self.api("query", **params)
        result = data["result"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def wait_for(
        self,
        expr: str,
        predicate: Callable[[list[dict[str, Any]]], bool] = bool,
        timeout: float = 30.0,
        interval: float = 0.25,
    ) -> list[dict[str, Any]]:
        """Query `expr` until `predicate(result)` holds; return that result, or raise on timeout."""
        deadline = time.monotonic() + timeout
        result = self.query(expr)
        while not predicate(result):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"after {timeout:.0f}s, {expr!r} still gives {result!r}")
            time.sleep(interval)
            result = self.query(expr)
        return result

    # -- internals ----------------------------------------------------------------

    def _wait_ready(self, deadline: float) -> bool:
        """True once ``/-/ready`` answers 200; False if the process exited first."""
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except urllib.error.HTTPError as e:
                e.close()  # 503 while starting up
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise self._fail(f"not ready after {self.startup_timeout:.0f}s")

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _fail(self, why: str) -> PrometheusError:
        rc = self._proc.poll() if self._proc is not None else None
        return PrometheusError(f"prometheus {why} (exit code {rc}); log tail:\n{self.log_tail()}")
