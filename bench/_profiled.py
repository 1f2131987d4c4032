"""`guardrail-proxy` under cProfile switched on and off by SIGUSR1, so start-up is left out.

    python bench/_profiled.py OUT.prof serve --upstream ... --workers 1

The first SIGUSR1 starts profiling, the second stops it and writes OUT.prof.
"""

from __future__ import annotations

import os
import sys

if os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.append(sys.path.pop(0))  # no script in bench/ may shadow a standard module

import cProfile
import gc
import json
import signal
import time
from types import FrameType
from typing import Any

from proxy.cli import main

PROFILER = cProfile.Profile()
_running = False
_gc: dict[str, Any] = {"pauses": {0: [], 1: [], 2: []}, "started": 0.0, "wall": 0.0, "cpu": 0.0}
_gc_started = 0.0


def _on_gc(phase: str, info: dict[str, int]) -> None:
    """Record each collection's pause while profiling (GC time is otherwise charged to
    whatever function happened to allocate)."""
    global _gc_started
    if not _running:
        return
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        _gc["pauses"][info["generation"]].append(time.perf_counter() - _gc_started)


def _toggle(signum: int, frame: FrameType | None) -> None:
    global _running
    if _running:
        PROFILER.disable()
        _running = False
        _gc["wall"] = time.perf_counter() - _gc["started"]
        _gc["cpu"] = time.process_time() - _gc["cpu"]
        with open(sys.argv[1] + ".gc.json", "w") as f:
            json.dump(_gc, f)
        PROFILER.dump_stats(sys.argv[1] + ".tmp")
        os.replace(sys.argv[1] + ".tmp", sys.argv[1])  # appears only when complete
    else:
        _gc["started"], _gc["cpu"] = time.perf_counter(), time.process_time()
        _running = True
        PROFILER.enable()


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _toggle)
    gc.callbacks.append(_on_gc)
    sys.exit(main(sys.argv[2:]))
