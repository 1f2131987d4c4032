"""A real llama.cpp server (xllamacpp + SmolLM2-135M) in a subprocess, for e2e tests.

The server runs out of process (``tests/support/llama_server.py``) because
xllamacpp's ``Server`` takes over SIGINT/SIGTERM and runs native threads that
must not share the test process's event loop or GIL-bound timing.

Usage::

    with LlamaServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="none")
        client.chat.completions.create(model=server.model, messages=[...])
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from .models import smollm2_gguf

_SCRIPT = Path(__file__).with_name("llama_server.py")

DEFAULT_ALIAS = "smollm2-135m-instruct"


class LlamaServerError(RuntimeError):
    """The server subprocess did not come up (message carries its stderr tail)."""


class LlamaServer:
    """Context manager owning one llama.cpp server subprocess on 127.0.0.1.

    ``threads`` defaults to 1: on this project's 2-core machines a 2-thread
    llama.cpp threadpool competing with the proxy and the test process turns a
    0.2 s completion into 2-12 s; one thread stays at ~0.2 s for 16 tokens.

    The port is chosen by the kernel (``--port 0``) and reported back by the child,
    so parallel test sessions cannot race for it. The child also exits when its
    stdin closes, so a SIGKILLed test run leaves no server behind.
    """

    def __init__(
        self,
        model: Path | str | None = None,
        *,
        alias: str = DEFAULT_ALIAS,
        ctx_size: int = 2048,
        n_predict: int = 64,
        threads: int = 1,
        parallel: int = 2,
        seed: int = 42,
        startup_timeout: float = 120.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self._model_arg = model
        self.alias = alias
        self.ctx_size = ctx_size
        self.n_predict = n_predict
        self.threads = threads
        self.parallel = parallel
        self.seed = seed
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.log_path: Path | None = None
        self.origin = ""  # e.g. http://127.0.0.1:PORT
        self.model = ""  # model id reported by /v1/models
        self.model_path: Path | None = None

    # -- public API -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (``.../v1``), what ``openai.OpenAI`` wants."""
        if not self.origin:
            raise RuntimeError("LlamaServer is not running")
        return f"{self.origin}/v1"

    @property
    def port(self) -> int:
        return int(self.origin.rsplit(":", 1)[1])

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> LlamaServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Spawn the server and block until it serves ``/health`` and ``/v1/models``."""
        if self._proc is not None:
            raise RuntimeError("LlamaServer already started")
        if self._model_arg is None:
            self.model_path = smollm2_gguf()
        else:
            self.model_path = Path(self._model_arg)

        fd, log_name = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        self.log_path = Path(log_name)
        self._log = os.fdopen(fd, "w+b")
        cmd = [
            sys.executable,
            str(_SCRIPT),
            "--model",
            str(self.model_path),
            "--port",
            "0",
            "--alias",
            self.alias,
            "--ctx-size",
            str(self.ctx_size),
            "--n-predict",
            str(self.n_predict),
            "--threads",
            str(self.threads),
            "--parallel",
            str(self.parallel),
            "--seed",
            str(self.seed),
            "--watch-stdin",
        ]
        deadline = time.monotonic() + self.startup_timeout
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                # Own process group: a terminal's Ctrl-C goes to pytest only, which
                # then stops the server in teardown.
                start_new_session=True,
            )
            ready = self._read_ready_line(deadline)
            self.origin = str(ready["listening"]).rstrip("/")
            self._wait_http(deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; close every pipe and file."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            # Closed only now: stdin EOF is the child's "parent died" signal.
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None
        self.origin = ""

    def stderr_tail(self, max_bytes: int = 4000) -> str:
        """Last bytes of the server's log (llama.cpp logs to stderr)."""
        if self.log_path is None:
            return ""
        try:
            with self.log_path.open("rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - max_bytes))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    # -- internals --------------------------------------------------------------

    def _fail(self, why: str) -> LlamaServerError:
        rc = self._proc.poll() if self._proc else None
        return LlamaServerError(
            f"llama server {why} (exit code {rc}, model {self.model_path});"
            f" stderr tail:\n{self.stderr_tail()}"
        )

    def _read_ready_line(self, deadline: float) -> dict[str, Any]:
        """Wait for the child's one JSON line on stdout, or its death, or the deadline."""
        assert self._proc is not None and self._proc.stdout is not None
        out = self._proc.stdout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(out, selectors.EVENT_READ)
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._fail(f"not ready after {self.startup_timeout:.0f}s")
                if not sel.select(timeout=min(left, 1.0)):
                    continue
                chunk = os.read(out.fileno(), 4096)
                if not chunk:
                    self._proc.wait(timeout=self.stop_timeout)
                    raise self._fail("exited before it was ready")
                buf += chunk
        line = buf.split(b"\n", 1)[0]
        try:
            ready: dict[str, Any] = json.loads(line)
        except ValueError as e:
            raise self._fail(f"printed an unexpected line {line!r}") from e
        return ready

    def _get_json(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.origin}{path}", timeout=5) as resp:
            return json.load(resp)

    def _wait_http(self, deadline: float) -> None:
        """Poll /health then read the model id from /v1/models."""
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise self._fail("exited while starting")
            try:
                if self._get_json("/health").get("status") == "ok":
                    models = self._get_json("/v1/models")
                    self.model = str(models["data"][0]["id"])
                    return
            except urllib.error.HTTPError as e:
                e.close()  # unclosed, it would raise a ResourceWarning later
                last = e
            except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError) as e:
                last = e
            time.sleep(0.1)
        raise self._fail(f"/health not ok after {self.startup_timeout:.0f}s (last error: {last})")
