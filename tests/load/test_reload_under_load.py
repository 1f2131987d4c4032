"""Hot reload in a loop under load: no request fails, every reload succeeds, memory stays flat.

The proxy runs as a process (`serve --workers 1 --reload-interval 0.1`) with a policy of one
5,000-term lexicon that blocks in both directions. For ~8 s, 16 clients send chat requests,
streamed and not, while the lexicon is replaced every 0.2 s by one of two term sets (as a
ConfigMap update does: a new file renamed into place) and SIGHUP arrives now and then.

The traffic never contains a listed term (the terms are consonant-only words; every word of
the traffic has a vowel), so every one of its responses must be a complete 200. A probe asks
for `alphaprobe` and `bravoprobe`, each listed in one set only: it must get 200 or a 400
`content_filter`, see both, and once the rewriting stops see exactly the last set enforced.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from tests.load.harness import RssSampler, listen, proxy_log, proxy_process
from tests.support.bad_upstreams import delta, scrape
from tests.support.processes import wait_ready

CLIENTS = 16
TRAFFIC_SECONDS = 8.0
REWRITE_EVERY = 0.2
SIGHUP_EVERY = 1.5
TERMS = 5_000  # ~1.4 MB of automaton per policy: a policy kept alive by each reload would show in RSS
RSS_GROWTH_LIMIT_MIB = 16.0

ANSWER = "The weather is mild and sunny with a light breeze from the sea."
PROBES = {"alphaprobe": "a", "bravoprobe": "b"}  # probe term -> the term set that lists it
POLICY = """\
name: reload-under-load
version: "1"
detectors:
  words: {type: keywords, files: [{path: words.txt, category: A.1.h}]}
prompt:
  - {id: block-words, detector: words, action: block}
completion:
  - {id: block-words, detector: words, action: block}
"""


def term_set(name: str) -> bytes:
    """5,000 ten-letter consonant-only words (no vowel, no y) and this set's probe term."""
    rng = random.Random(name)
    words = ["".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(10)) for _ in range(TERMS)]
    probe = next(term for term, owner in PROBES.items() if owner == name)
    return ("\n".join([*words, probe]) + "\n").encode()


def replace_atomically(path: Path, data: bytes) -> None:
    staged = path.with_suffix(".new")
    staged.write_bytes(data)
    os.replace(staged, path)


async def upstream_chat(request: web.Request) -> web.StreamResponse:
    """A fast upstream: the same answer, whole or in 6-character chunks."""
    body = orjson.loads(await request.read())
    base = {"id": "chatcmpl-load", "created": 1, "model": "load"}
    if not body.get("stream"):
        choice = {"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}
        return web.json_response({**base, "object": "chat.completion", "choices": [choice]})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    deltas = [{"content": ANSWER[i : i + 6]} for i in range(0, len(ANSWER), 6)]
    for i, piece in enumerate([*deltas, {}]):
        choice = {"index": 0, "delta": piece, "finish_reason": "stop" if i == len(deltas) else None}
        await response.write(b"data: " + orjson.dumps({**base, "object": "chat.completion.chunk", "choices": [choice]}) + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    return response


def answer_problem(status: int, raw: bytes, stream: bool) -> str | None:
    """None when this is the complete, unchanged answer; otherwise what is wrong with it."""
    if status != 200:
        return f"status {status}: {raw[:200]!r}"
    if not stream:
        choice = orjson.loads(raw)["choices"][0]
        text, finish = choice["message"]["content"], choice["finish_reason"]
    else:
        if not raw.endswith(b"data: [DONE]\n\n"):
            return f"stream cut short: {raw[-200:]!r}"
        chunks = [orjson.loads(event[6:]) for event in raw.split(b"\n\n") if event.startswith(b"data: {")]
        choices = [choice for chunk in chunks for choice in chunk["choices"]]
        text = "".join(choice["delta"].get("content") or "" for choice in choices)
        finish = choices[-1]["finish_reason"]
    return None if (text, finish) == (ANSWER, "stop") else f"answer changed: {text!r}, finish {finish}"


async def post_chat(session: aiohttp.ClientSession, url: str, text: str, stream: bool) -> tuple[int, bytes]:
    body = orjson.dumps({"model": "load", "stream": stream, "messages": [{"role": "user", "content": text}]})
    async with session.post(f"{url}/v1/chat/completions", data=body) as response:
        return response.status, await response.read()


async def probe(session: aiohttp.ClientSession, url: str, term: str) -> int:
    """200, or 400 with code content_filter; anything else fails the test."""
    status, raw = await post_chat(session, url, f"please say {term}", stream=False)
    assert status in (200, 400), (status, raw[:200])
    if status == 400:
        assert orjson.loads(raw)["error"]["code"] == "content_filter", raw[:200]
    return status


async def test_hot_reload_in_a_loop_under_load_fails_no_request(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    sets = {"a": term_set("a"), "b": term_set("b")}
    words.write_bytes(sets["a"])
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    upstream_app = web.Application()
    upstream_app.router.add_post("/v1/chat/completions", upstream_chat)
    async with listen(upstream_app) as upstream:
        with proxy_process("--upstream", f"{upstream}/v1", "--config", str(tmp_path / "policy.yaml"),
                           "--reload-interval", "0.1", tmp_path=tmp_path) as (proc, url):
            await wait_ready(url, proc)
            before = await scrape(url)
            failures: list[str] = []
            served: list[int] = []
            seen: dict[str, set[int]] = {term: set() for term in PROBES}
            stop = asyncio.Event()
            timeout = aiohttp.ClientTimeout(total=20)

            async def client(n: int) -> None:
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    for i in range(100_000):  # bounded; `stop` ends it after TRAFFIC_SECONDS
                        if stop.is_set():
                            return
                        stream = (n + i) % 2 == 1
                        try:
                            status, raw = await post_chat(session, url, f"What is the weather like today, client {n} request {i}?", stream)
                            problem = answer_problem(status, raw, stream)
                        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
                            problem = f"{type(exc).__name__}: {exc}"
                        if problem:
                            failures.append(f"client {n} request {i}: {problem}")
                        served.append(status)

            async def prober() -> None:
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    while not stop.is_set():
                        for term in PROBES:
                            seen[term].add(await probe(session, url, term))
                        await asyncio.sleep(0.05)

            async def rewriter() -> int:
                rewrites, hups, start = 0, 0, time.monotonic()
                while (elapsed := time.monotonic() - start) < TRAFFIC_SECONDS:
                    rewrites += 1
                    await asyncio.to_thread(replace_atomically, words, sets["b" if rewrites % 2 else "a"])
                    if elapsed >= (hups + 1) * SIGHUP_EVERY:
                        hups += 1
                        proc.send_signal(signal.SIGHUP)
                    await asyncio.sleep(REWRITE_EVERY)
                stop.set()
                return rewrites

            async with RssSampler(proc.pid, period=0.2).running() as rss:
                tasks = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
                tasks.append(asyncio.create_task(prober()))
                rewrites = await rewriter()
                await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)

            # The rewriting stopped on one set: exactly that set is enforced, on the same process.
            final = "b" if rewrites % 2 else "a"
            async with aiohttp.ClientSession(timeout=timeout) as session:
                deadline = time.monotonic() + 5
                expected = {term: 400 if owner == final else 200 for term, owner in PROBES.items()}
                while {term: await probe(session, url, term) for term in PROBES} != expected:
                    assert time.monotonic() < deadline, f"the last term set ({final}) is not enforced"
                    await asyncio.sleep(0.1)
            after = await scrape(url)
            assert proc.poll() is None

    reloads = delta(before, after, "guardrail_policy_reloads_total", result="success")
    warm = rss.between(1.0, 2.0)
    end = rss.between(TRAFFIC_SECONDS - 1.0, TRAFFIC_SECONDS + 1.0)
    growth = max(end) - min(warm)
    print(f"\n{len(served)} requests, {rewrites} rewrites, {reloads:.0f} reloads; proxy RSS "
          f"{min(warm):.1f} MiB at 1-2 s, {max(end):.1f} MiB at the end, peak {rss.peak:.1f} MiB")
    assert not failures, f"{len(failures)} of {len(served)} requests failed, e.g. {failures[:3]}\n{proxy_log(tmp_path)}"
    assert len(served) > 200, "the traffic should keep flowing during the reloads"
    assert seen == {"alphaprobe": {200, 400}, "bravoprobe": {200, 400}}, f"enforcement should flip: {seen}"
    assert delta(before, after, "guardrail_policy_reloads_total", result="failure") == 0, proxy_log(tmp_path)
    assert reloads >= 20, f"only {reloads:.0f} reloads for {rewrites} rewrites"
    assert growth < RSS_GROWTH_LIMIT_MIB, f"RSS grew by {growth:.1f} MiB over {reloads:.0f} reloads: {rss.curve()}"
