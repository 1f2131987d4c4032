"""Subprocess entry point: serve a GGUF model over llama.cpp's own HTTP server.

xllamacpp's ``Server`` starts llama.cpp's native HTTP server (the same routes as
``llama-server``: ``/health``, ``/v1/models``, ``/v1/chat/completions``, ...) on
background threads and installs its own SIGINT/SIGTERM handlers. It runs in a
process of its own so that it can neither stall nor take over the signals of the
test process; ``tests.support.llama.LlamaServer`` drives it.

Run by path (it imports only the standard library and xllamacpp)::

    python tests/support/llama_server.py --model M.gguf --port 0

Once the model is loaded and the port is bound it prints one JSON line to stdout,
``{"listening": "http://127.0.0.1:PORT"}``, so ``--port 0`` (a port picked by the
kernel) is race-free. It exits on SIGTERM/SIGINT, and with ``--watch-stdin`` also
when its stdin reaches EOF, so it dies with a parent that was SIGKILLed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from types import FrameType

#: Seconds a graceful stop may take. llama.cpp's HTTP stop waits ~30 s for an
#: in-flight stream before cancelling it; tests must not, and nothing is lost.
_STOP_GRACE = 2


class _Stop(Exception):
    """Raised from the signal handler to leave the wait loop."""


_stopping = False


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """First signal leaves the wait loop; later ones must not interrupt the shutdown."""
    global _stopping
    if not _stopping:
        _stopping = True
        raise _Stop(signum)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="path to a .gguf file")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 lets the kernel pick a free port")
    ap.add_argument("--alias", default="", help="model id reported by /v1/models")
    ap.add_argument("--ctx-size", type=int, default=2048)
    ap.add_argument("--n-predict", type=int, default=64, help="cap when a request sets none")
    ap.add_argument("--threads", type=int, default=1, help="see LlamaServer: 1 beats 2 on 2 cores")
    ap.add_argument(
        "--poll", type=int, default=0, help="threadpool busy-wait level 0-100 (0: sleep)"
    )
    ap.add_argument("--parallel", type=int, default=2, help="slots (concurrent requests)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--verbosity", type=int, default=3, help="llama.cpp log level (stderr)")
    ap.add_argument(
        "--watch-stdin", action="store_true", help="exit when stdin reaches EOF (parent gone)"
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    if args.alias:
        params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx_size
    params.n_predict = args.n_predict
    params.n_parallel = args.parallel
    # One KV pool shared by the slots: each request may use the whole context.
    params.kv_unified = True
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cpuparams.poll = args.poll
    params.cpuparams_batch.poll = args.poll
    params.n_threads_http = max(2, args.parallel + 1)
    params.sampling.seed = args.seed
    params.verbosity = args.verbosity

    # Blocks until the model is loaded and the HTTP server listens; raises on failure.
    server = xllamacpp.Server(params)
    try:
        # Server() replaced the signal handlers with llama.cpp's, which stop only the
        # model loop and leave this thread waiting: take them back.
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        sys.stdout.write(json.dumps({"listening": server.listening_address}) + "\n")
        sys.stdout.flush()
        try:
            if args.watch_stdin:
                while os.read(sys.stdin.fileno(), 4096):
                    pass
            else:
                while True:
                    signal.pause()
        except _Stop:
            pass
    finally:
        global _stopping
        _stopping = True
        # The destructor stops the HTTP server and joins the model loop, unless a
        # client is mid-stream: then SIGALRM's default action ends the process. (A
        # Python timer thread could not: the destructor holds the GIL.)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(_STOP_GRACE)
        del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
