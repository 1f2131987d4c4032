"""Proof against the floor: the proxy vs a bare relay, nginx and no relay at all, over HTTP.

All on 127.0.0.1, started by this script in one run: a raw-asyncio mock upstream (fixed chat
completion JSON, or a 100-chunk SSE answer), then in front of it: nothing ("direct"), a bare
aiohttp relay, nginx (if installed), the proxy with an empty policy, the proxy with the
default pack + 10,000 lexicon terms (one worker), and the same with `--workers 2`.
Workloads: 1 KB chat prompts without and with PII (non-streamed), and streamed 100-chunk
answers; 1 and 32 connections. With wrk, also a conversation: ten earlier messages and a new
last turn in every request, for which the proxy is measured with its decision cache off (as
every proxy here) and on (as shipped). Load comes from `wrk` (Lua script for the POST body) in its
own process, else from `bench/_client.py`. CPU and RSS of the relay come from /proc.

    python bench/http_floor.py            # full run, about 2.5 minutes
    python bench/http_floor.py --quick    # smoke run, about 1 minute
"""

from __future__ import annotations

import os
import sys

# bench/ goes last on the import path, so no script here can shadow a standard module:
# search bench/ last (it still finds `_common`).
if os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.append(sys.path.pop(0))

import argparse
import json
import os
import random
import shutil
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from _common import (
    Server,
    Servers,
    chat_request,
    free_port,
    make_sample,
    make_workdir,
    markdown_table,
    median,
    percentile,
    print_header,
    proxy_serve_flags,
    run_client,
    servers,
    start_bare_relay,
    start_mock,
    start_proxy,
    stats_table,
    verdict,
    write_lexicon_in_child,
    write_policy,
)

WRK_SCRIPT = """
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d, "non2xx": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""

#: The same, with `TURN-COUNTER` in the body replaced by a new number in every request: a
#: conversation whose last turn is new each time (and so never in the decision cache).
WRK_SCRIPT_NEW_TURN = WRK_SCRIPT.replace('wrk.body = f:read("*a")', 'local template = f:read("*a")') + """
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, (string.gsub(template, "TURN%-COUNTER", tostring(counter))))
end
"""
NEW_TURN = "TURN-COUNTER"

NGINX_CONF = """
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream mock {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port} backlog=1024;
    client_body_buffer_size 64k;
    location / {{
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""


@dataclass
class Load:
    requests: int
    seconds: float
    p50: float
    p99: float
    errors: int


def wrk_load(url: str, body_file: Path, script: Path, connections: int, seconds: float) -> Load:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(script), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True,
                         env={**os.environ, "WRK_BODY_FILE": str(body_file)})
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith('{"requests"'))
    r = json.loads(line)
    return Load(r["requests"], r["duration_us"] / 1e6, r["p50_us"] / 1e6, r["p99_us"] / 1e6, r["errors"] + r["non2xx"])


def client_load(url: str, body: bytes, workdir: Path, connections: int, seconds: float, stream: bool) -> Load:
    r = run_client(url, body, workdir, 10**7, connections, seconds, stream)
    lat: list[float] = r["latencies"]  # type: ignore[assignment]
    return Load(len(lat), float(r["wall"]), median(lat), percentile(lat, 99), int(r["error_count"]))  # type: ignore[arg-type]


def start_nginx(group: Servers, upstream: Server, workdir: Path) -> Server | None:
    if shutil.which("nginx") is None:
        return None
    port = free_port()
    nginx_dir = workdir / "nginx"
    nginx_dir.mkdir(exist_ok=True)
    conf = nginx_dir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=nginx_dir, upstream=upstream.port, port=port))
    return group.start("nginx", ["nginx", "-c", str(conf), "-p", str(nginx_dir), "-g", "daemon off;"], port)


def check(url: str, body: bytes, stream: bool) -> dict[str, str]:
    """One request before timing: it must succeed; returns the response headers."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        data = response.read()
        if response.status != 200 or (stream and not data.rstrip().endswith(b"data: [DONE]")):
            raise SystemExit(f"{url}: unexpected response {response.status}: {data[:200]!r}")
        return dict(response.headers)


#: A conversation of ten earlier messages (half with PII) and a new last turn in every request.
CHAT = "10-message chat + new turn"
#: The proxy with its decision cache on, as shipped (every other proxy here has it off).
CACHED = "proxy, default + 10k, decision cache on"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1-second runs, fewer rows")
    parser.add_argument("--seconds", type=int, default=None, help="seconds per measurement (default 3, quick 1)")
    parser.add_argument("--client", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--profile", action="store_true",
                        help="also run the default + 10k proxy under cProfile, per workload at 32 connections")
    args = parser.parse_args()
    seconds = args.seconds or (1.0 if args.quick else 3.0)
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)

    print_header("HTTP: the proxy against the floor")
    workdir = make_workdir("bench-http-")
    write_lexicon_in_child(workdir / "lex10k.txt", 10_000)
    policy_10k = write_policy(workdir / "policy-10k.yaml", workdir / "lex10k.txt")
    policy_empty = write_policy(workdir / "policy-empty.yaml", empty=True)
    policy_cached = write_policy(workdir / "policy-10k-cached.yaml", workdir / "lex10k.txt", decision_cache=4096)
    rng = random.Random("http-prompts")
    clean = make_sample(rng, 1024, with_pii=False).text
    pii = make_sample(rng, 1024, with_pii=True).text
    history = [make_sample(rng, 512, with_pii=turn % 2 == 0).text for turn in range(10)]
    workloads = {
        "1 KB JSON, no PII": (chat_request(clean), False),
        "1 KB JSON, with PII": (chat_request(pii), False),
        "stream, 100 chunks": (chat_request(clean, stream=True), True),
    }
    if use_wrk:  # a body that changes in every request needs wrk's Lua
        new_turn = f"Turn {NEW_TURN}: 请根据上面的内容继续，谢谢。Please go on."
        workloads[CHAT] = (chat_request(new_turn, history=history), False)
    bodies = {}
    for i, (name, (body, _)) in enumerate(workloads.items()):
        bodies[name] = workdir / f"body-{i}.json"
        bodies[name].write_bytes(body)
    script, new_turn_script = workdir / "post.lua", workdir / "post-new-turn.lua"
    script.write_text(WRK_SCRIPT)
    new_turn_script.write_text(WRK_SCRIPT_NEW_TURN)
    notes: list[str] = [] if use_wrk else [f"no wrk: no {CHAT!r} rows (its body changes in every request)"]

    rows = []
    results: dict[tuple[str, str, int], tuple[Load, float, float]] = {}
    with servers(workdir) as group:
        mock = start_mock(group, "raw")
        targets: list[tuple[str, Server]] = [("direct (raw asyncio mock)", mock)]
        targets.append(("bare aiohttp relay", start_bare_relay(group, mock)))
        nginx = start_nginx(group, mock, workdir)
        if nginx is not None:
            targets.append(("nginx relay (1 worker)", nginx))
        else:
            notes.append("nginx is not installed: no nginx row (`apt-get install -y nginx`).")
        targets.append(("proxy, empty policy", start_proxy(group, "proxy-empty", mock, policy_empty)))
        targets.append(("proxy, default + 10k", start_proxy(group, "proxy-10k", mock, policy_10k)))
        targets.append((CACHED, start_proxy(group, "proxy-10k-cached", mock, policy_cached)))
        if "--workers" in proxy_serve_flags():
            targets.append(("proxy, default + 10k, --workers 2",
                            start_proxy(group, "proxy-10k-w2", mock, policy_10k, workers=2)))
        else:
            notes.append("`guardrail-proxy serve` has no --workers option yet: no --workers 2 row.")

        for name, (body, stream) in workloads.items():
            for label, server in targets:
                if label == CACHED and name != CHAT:
                    continue  # one body sent over and over would be all cache hits: no measure of anything
                url = f"http://127.0.0.1:{server.port}/v1/chat/completions"
                fixed = body.replace(NEW_TURN.encode(), b"0")
                headers = check(url, fixed, stream)
                if "proxy" in label and "empty" not in label:
                    notes.append(f"{label}, {name}: X-Guardrail-Prompt: {headers.get('X-Guardrail-Prompt')}")
                run_client(url, fixed, workdir, 200, 8, 2.0, stream)  # warm-up
                for connections in (1, 32):
                    cpu_before = server.cpu()
                    lua = new_turn_script if name == CHAT else script
                    load = (wrk_load(url, bodies[name], lua, connections, seconds) if use_wrk
                            else client_load(url, body, workdir, connections, seconds, stream))
                    cpu_used = server.cpu() - cpu_before
                    if load.errors:
                        notes.append(f"{label}, {name}, {connections} conn: {load.errors} errors")
                    results[(name, label, connections)] = (load, cpu_used / max(load.requests, 1), server.rss())
    notes = list(dict.fromkeys(notes))

    if (CHAT, CACHED, 32) in results:
        off, on = results[(CHAT, "proxy, default + 10k", 32)][1], results[(CHAT, CACHED, 32)][1]
        notes.append(f"{CHAT}, 32 conn: the decision cache takes the proxy's CPU per request from "
                     f"{off * 1e3:.3f} to {on * 1e3:.3f} ms ({off / on:.1f}x): the ten earlier messages come "
                     "from it, only the new turn is scanned.")
    direct = "direct (raw asyncio mock)"
    for (name, label, connections), (load, cpu, rss) in results.items():
        base = results[(name, direct, connections)][0]
        rate = load.requests / load.seconds
        bare_cpu = results[(name, "bare aiohttp relay", connections)][1]
        rows.append([name, connections, label,
                     f"{load.p50 * 1e3:.2f} / {load.p99 * 1e3:.2f}",
                     "" if label == direct
                     else f"{(load.p50 - base.p50) * 1e3:+.2f} / {(load.p99 - base.p99) * 1e3:+.2f}",
                     f"{rate:,.0f}",
                     ("(upstream) " if label == direct else "") + f"{cpu * 1e3:.3f}",
                     "" if label == direct else f"{cpu / bare_cpu:.2f}x",
                     f"{1 / cpu:,.0f}" if cpu > 0 else "n/a",
                     f"{rss:.0f}"])
    print(f"Load generator: {'wrk -t1 (Lua POST script)' if use_wrk else 'bench/_client.py (aiohttp)'}, "
          f"{seconds:g} s per row after a warm-up; CPU = utime+stime of the relay's process tree.\n")
    print(markdown_table(["workload", "conns", "path", "latency ms p50 / p99", "added ms p50 / p99", "req/s",
                          "CPU ms/req", "CPU vs bare relay", "req/s per core (1/CPU)", "RSS MB"], rows))
    if notes:
        print("\nNotes:\n" + "\n".join(f"- {n}" for n in notes))

    # ---- targets
    proxy = "proxy, default + 10k"
    rows = []
    for name in (name for name in workloads if name != CHAT):  # the targets predate the conversation
        for connections in (1, 32):
            cpu = results[(name, proxy, connections)][1]
            bare = results[(name, "bare aiohttp relay", connections)][1]
            rows.append([f"CPU/request ≤ 2x bare relay: {name}, {connections} conn", "≤ 2x",
                         f"{cpu * 1e3:.3f} vs {bare * 1e3:.3f} ms = {cpu / bare:.2f}x", verdict(cpu / bare <= 2)])
    for name in ("1 KB JSON, no PII", "1 KB JSON, with PII"):
        cpu = results[(name, proxy, 32)][1]
        rows.append([f"req/s per core (1 / CPU per request): {name}", "≥ 1,000", f"{1 / cpu:,.0f}",
                     verdict(1 / cpu >= 1000)])
    if args.quick:
        rows = [[*r[:3], r[3] + " (quick run)"] for r in rows]
    print("\n## Targets (proxy with the default pack + 10k terms, one worker)\n")
    print(markdown_table(["target", "goal", "measured", "verdict"], rows))
    if args.profile:
        for name, (body, stream) in workloads.items():
            print(f"\n## Profile: proxy default + 10k, {name}, 32 connections (cProfile, own time)\n")
            print(profile_proxy(workdir, policy_10k, bodies[name], body, stream, script, seconds, use_wrk))


def profile_proxy(workdir: Path, policy: Path, body_file: Path, body: bytes, stream: bool, script: Path,
                  seconds: float, use_wrk: bool) -> str:
    """The proxy (one worker) under cProfile, switched on after a warm-up and off after the load."""
    import pstats
    import signal
    import time

    out = workdir / f"proxy-{body_file.stem}.prof"
    with servers(workdir) as group:
        mock = start_mock(group, "raw")
        proxy = start_proxy(group, "proxy-profiled", mock, policy, profile_to=out)
        url = f"http://127.0.0.1:{proxy.port}/v1/chat/completions"
        run_client(url, body, workdir, 200, 8, 2.0, stream)
        proxy.proc.send_signal(signal.SIGUSR1)
        if use_wrk:
            wrk_load(url, body_file, script, 32, seconds)
        else:
            client_load(url, body, workdir, 32, seconds, stream)
        proxy.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    gc_info = json.loads(Path(str(out) + ".gc.json").read_text())
    pauses = {int(k): v for k, v in gc_info["pauses"].items()}
    total = sum(sum(v) for v in pauses.values())
    gc_line = (f"Garbage collection while profiled: {total:.2f} s of {gc_info['cpu']:.2f} s CPU "
               f"({total / gc_info['cpu']:.0%}); gen2: {len(pauses[2])} collections, "
               f"max {max(pauses[2], default=0) * 1e3:.0f} ms, total {sum(pauses[2]):.2f} s; "
               f"gen0+1: {len(pauses[0]) + len(pauses[1])} collections, {sum(pauses[0]) + sum(pauses[1]):.2f} s. "
               "cProfile charges these pauses to whichever function allocated at the time.\n\n")
    return gc_line + stats_table(pstats.Stats(str(out)), top=16)


if __name__ == "__main__":
    main()
