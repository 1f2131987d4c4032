"""Streaming guard: `StreamScanner` cost per chunk and hold-back, then the HTTP relay.

Part 1, in this process: feed 100-chunk answers (token-sized deltas of 2-8 characters,
mixed Chinese/English, without and with PII) to `policies.streaming.StreamScanner`, timing
every `feed` and the final `flush`, and recording the characters held back after each feed.

Part 2, over HTTP on 127.0.0.1, all started here: a mock upstream (aiohttp, streams a
100-chunk answer at once), a bare aiohttp relay (`bench/bare_relay.py`), and the proxy
(`guardrail-proxy serve`) with the default pack + 10,000 lexicon terms and with an empty
policy. A separate client process streams the answer through each, one stream at a time,
and records time to first token; the relay's CPU comes from /proc/<pid>/stat.

    python bench/stream.py            # full run, about 30 seconds
    python bench/stream.py --quick    # smoke run
"""

from __future__ import annotations

import os
import sys

# bench/ goes last on the import path, so no script here can shadow a standard module:
# search bench/ last (it still finds `_common`).
if os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.append(sys.path.pop(0))

import argparse
import gc
import logging
import time

import orjson
from _common import (
    Server,
    answer_chunks,
    chat_request,
    make_workdir,
    markdown_table,
    median,
    percentile,
    print_header,
    profile_table,
    run_client,
    servers,
    start_bare_relay,
    start_mock,
    start_proxy,
    verdict,
    write_lexicon_in_child,
    write_policy,
)

from policies.engine import Policy
from policies.findings import Direction
from policies.loader import load_policy
from policies.streaming import StreamScanner


def scan_answers(policy: Policy, answers: list[list[str]], rounds: int) -> dict[str, float]:
    """Per-feed seconds, per-answer totals (feeds + flush) and the largest hold-back."""
    feeds: list[float] = []
    totals: list[float] = []
    held = 0
    blocked = 0
    clock = time.perf_counter
    for _ in range(rounds):
        for chunks in answers:
            scanner = StreamScanner(policy, Direction.COMPLETION)
            total = 0.0
            for delta in chunks:
                started = clock()
                release = scanner.feed(delta)
                elapsed = clock() - started
                feeds.append(elapsed)
                total += elapsed
                held = max(held, scanner.pending_chars)
                blocked += release.blocked
            started = clock()
            scanner.flush()
            totals.append(total + clock() - started)
    return {"feed_p50": median(feeds), "feed_p99": percentile(feeds, 99), "feed_mean": sum(feeds) / len(feeds),
            "answer_p50": median(totals), "answer_p99": percentile(totals, 99), "held": held, "blocked": blocked}


def streamed_text(url: str, body: bytes) -> str:
    """The concatenated `delta.content` of one stream (a correctness check before timing)."""
    import urllib.request

    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    parts = []
    for line in raw.split(b"\n"):
        if line.startswith(b"data: {"):
            for choice in orjson.loads(line[6:]).get("choices", []):
                parts.append((choice.get("delta") or {}).get("content") or "")
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer answers and streams")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile table of StreamScanner.feed")
    args = parser.parse_args()
    logging.getLogger("policies.lexicon").setLevel(logging.ERROR)
    answers_n, rounds, streams = (5, 2, 60) if args.quick else (20, 5, 400)

    print_header("Streaming guard: StreamScanner per chunk, HTTP relay TTFT and CPU")
    workdir = make_workdir("bench-stream-")
    write_lexicon_in_child(workdir / "lex10k.txt", 10_000)
    policy_10k = write_policy(workdir / "policy-10k.yaml", workdir / "lex10k.txt")
    policy_empty = write_policy(workdir / "policy-empty.yaml", empty=True)

    # ---- part 1: StreamScanner in process
    policies = {"default pack": load_policy(), "default + 10k terms": load_policy(policy_10k)}
    answers = {pii: [answer_chunks(seed, 100, pii) for seed in range(answers_n)] for pii in (False, True)}
    gc.collect()
    gc.freeze()  # the harness's heap out of the collector's reach: p99 is the scanner's
    rows = []
    results = {}
    for name, policy in policies.items():
        for pii, group in answers.items():
            scan_answers(policy, group[:2], 1)  # warm-up
            r = results[(name, pii)] = scan_answers(policy, group, rounds)
            chars = sum(len(c) for a in group for c in a) / len(group)
            rows.append([name, "with PII" if pii else "no PII", f"{len(group)}×{rounds}", f"{chars:.0f}",
                         f"{r['feed_p50'] * 1e6:.1f} / {r['feed_p99'] * 1e6:.1f}", f"{r['feed_mean'] * 1e6:.1f}",
                         f"{r['answer_p50'] * 1e3:.2f} / {r['answer_p99'] * 1e3:.2f}",
                         f"{policy.hold_back_chars(Direction.COMPLETION)}", f"{r['held']:.0f}", f"{r['blocked']:.0f}"])
    print("## Part 1: `StreamScanner` (completion direction), 100-chunk answers\n")
    print(markdown_table(["policy", "answers", "answers×rounds", "chars/answer", "µs per feed p50 / p99",
                          "µs per feed mean", "ms per answer p50 / p99 (100 feeds + flush)",
                          "declared hold-back", "largest hold-back seen", "blocked feeds"], rows))
    print("\nHold-back seen: the most characters the scanner held after any feed. Declared: "
          "`Policy.hold_back_chars(COMPLETION)`, the fixed window a scanner holds when no detector "
          "can tell where a match in progress may start (`hold_from`); more is held while a match "
          "straddles the cut.\n")

    if args.profile:
        policy = policies["default + 10k terms"]
        for pii, group in answers.items():

            def feed_all(group: list[list[str]] = group) -> None:
                for _ in range(rounds):
                    for chunks in group:
                        scanner = StreamScanner(policy, Direction.COMPLETION)
                        for delta in chunks:
                            scanner.feed(delta)
                        scanner.flush()

            print(f"### Profile: default + 10k terms, answers {'with' if pii else 'without'} PII\n")
            print(profile_table(feed_all, top=16, sort="cum", skip=("bench/",)))
            print()

    # ---- part 2: HTTP
    stream_body = chat_request("请写一段项目周报。Write a short weekly report.", stream=True)
    expected = "".join(answer_chunks(chunks=100))
    rows = []
    cpu: dict[str, float] = {}
    ttft: dict[str, tuple[float, float]] = {}
    with servers(workdir) as group:
        mock = start_mock(group, "aiohttp")
        targets: list[tuple[str, Server | None, Server]] = [("direct to mock upstream", None, mock)]
        bare = start_bare_relay(group, mock)
        targets.append(("bare aiohttp relay", bare, bare))
        for label, policy_file in (("proxy, empty policy", policy_empty), ("proxy, default + 10k terms", policy_10k)):
            proxy = start_proxy(group, label.replace(" ", "-").replace(",", ""), mock, policy_file)
            targets.append((label, proxy, proxy))
        for label, relay, entry in targets:
            url = f"http://127.0.0.1:{entry.port}/v1/chat/completions"
            got = streamed_text(url, stream_body)
            if got != expected:
                raise SystemExit(f"{label}: the relayed answer differs from the upstream's "
                                 f"({len(got)} vs {len(expected)} chars)")
            run_client(url, stream_body, workdir, 20, stream=True)  # warm-up
            measured = relay if relay is not None else mock
            cpu_before, wall_before = measured.cpu(), time.perf_counter()
            result = run_client(url, stream_body, workdir, streams, stream=True)
            cpu_used = measured.cpu() - cpu_before
            wall = time.perf_counter() - wall_before
            n = len(result["latencies"])  # type: ignore[arg-type]
            if result["error_count"] or n == 0:
                raise SystemExit(f"{label}: client errors: {result['errors']}")
            ttfts, latencies = result["ttfts"], result["latencies"]
            ttft[label] = (median(ttfts), percentile(ttfts, 99))  # type: ignore[arg-type]
            cpu[label] = cpu_used / n
            rows.append([label, n, f"{ttft[label][0] * 1e3:.2f} / {ttft[label][1] * 1e3:.2f}",
                         "" if relay is None else f"{(ttft[label][0] - ttft[targets[0][0]][0]) * 1e3:+.2f} / "
                                                  f"{(ttft[label][1] - ttft[targets[0][0]][1]) * 1e3:+.2f}",
                         f"{median(latencies) * 1e3:.2f} / {percentile(latencies, 99) * 1e3:.2f}",  # type: ignore[arg-type]
                         ("(mock upstream) " if relay is None else "") + f"{cpu[label] * 1e3:.2f}",
                         "" if relay is None else f"{cpu[label] / cpu['bare aiohttp relay']:.2f}x",
                         f"{measured.rss():.0f}", f"{wall:.1f}"])
    print("## Part 2: HTTP, one 100-chunk stream at a time (client in its own process)\n")
    print(markdown_table(["path", "streams", "TTFT ms p50 / p99", "added TTFT ms p50 / p99",
                          "whole stream ms p50 / p99",
                          "relay CPU ms/stream", "CPU vs bare relay", "relay RSS MB", "wall s"], rows))
    print("\nTTFT: from sending the request to the first event with non-empty `delta.content`. The mock "
          "writes all 100 chunks at once, so a relay's hold-back costs CPU, not waiting.\n")

    # ---- targets
    guard = results[("default + 10k terms", False)]
    guard_pii = results[("default + 10k terms", True)]
    proxy_label = "proxy, default + 10k terms"
    ratio = cpu[proxy_label] / cpu["bare aiohttp relay"]
    added = ttft[proxy_label][0] - ttft["direct to mock upstream"][0]
    rows = [
        ["guard CPU per chunk, default + 10k terms (mean)", "≤ 20 µs",
         f"{guard['feed_mean'] * 1e6:.1f} µs no PII / {guard_pii['feed_mean'] * 1e6:.1f} µs with PII",
         f"{verdict(guard['feed_mean'] <= 20e-6)} / {verdict(guard_pii['feed_mean'] <= 20e-6)}"],
        ["proxy CPU per 100-chunk stream vs bare relay", "≤ 2x",
         f"{cpu[proxy_label] * 1e3:.2f} ms vs {cpu['bare aiohttp relay'] * 1e3:.2f} ms = {ratio:.2f}x",
         verdict(ratio <= 2)],
        ["largest hold-back seen (default + 10k)", "report",
         f"{max(guard['held'], guard_pii['held']):.0f} chars "
         f"(declared {policies['default + 10k terms'].hold_back_chars(Direction.COMPLETION)})", ""],
        ["added TTFT p50, proxy default + 10k", "report", f"{added * 1e3:.2f} ms", ""],
    ]
    if args.quick:
        rows = [[*r[:3], (r[3] + " (quick run)").strip()] for r in rows]
    print("## Targets\n")
    print(markdown_table(["target", "goal", "measured", "verdict"], rows))


if __name__ == "__main__":
    main()
