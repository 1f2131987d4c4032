"""Hostile clients and hostile answers against one running proxy: property tests over real HTTP.

Arbitrary JSON (deeply nested too), invalid UTF-8, 10,000 messages, a 10 MB string, clients
that dribble their body, Unicode look-alikes of planted identifiers and listed terms, and
answers streamed in arbitrary byte splits. The proxy never answers 500, never shows a
traceback, always answers in the OpenAI error format, keeps serving others meanwhile, and what
a streaming client assembles is exactly the non-streamed decision on the whole answer.
"""

from __future__ import annotations

import asyncio
import gc
import http.client
import io
import itertools
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.lib.streaming.chat import ChatCompletionStreamState

from policies.engine import Policy
from policies.findings import Direction
from proxy.audit import AuditConfig
from tests.support.bad_upstreams import (
    DONE,
    chat_chunk,
    http_chunk,
    http_end,
    http_head,
    raw_server,
    read_request,
    sse,
)
from tests.support.servers import Stack, proxy_in_front_of, proxy_stack

EMAIL = "li.lei@example.com"
MOBILE = "13812345678"
RESIDENT_ID = "11010519491231002X"
CARD = "6222021234567890128"
PLANTED = (EMAIL, MOBILE, RESIDENT_ID, CARD)
T = TypeVar("T")
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- one proxy for the property tests ---------------------------------------------------


@dataclass
class Recorder:
    """An upstream that answers every route well, whatever it is sent, and keeps what it got."""

    received: list[bytes] = field(default_factory=list)

    async def handler(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.received.append(raw)
        body = orjson.loads(raw)
        route = request.path.removeprefix("/v1/")
        if route == "embeddings":
            return web.json_response({"object": "list", "data": [], "model": "m", "usage": {"prompt_tokens": 0, "total_tokens": 0}})
        text = "All good."
        if not body.get("stream"):
            choice: dict[str, Any] = {"index": 0, "finish_reason": "stop", "logprobs": None}
            choice.update({"text": text} if route == "completions" else {"message": {"role": "assistant", "content": text}})
            return web.json_response({"id": "x", "object": "x", "created": 1, "model": "m", "choices": [choice]})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        piece = {"text": text} if route == "completions" else {"delta": {"content": text}}
        await response.write(sse({"id": "x", "choices": [{"index": 0, "finish_reason": None, **piece}]}))
        done = {"text": ""} if route == "completions" else {"delta": {}}
        await response.write(sse({"id": "x", "choices": [{"index": 0, "finish_reason": "stop", **done}]}) + DONE)
        await response.write_eof()
        return response


@dataclass
class Hostile:
    stack: Stack
    upstream: Recorder
    session: aiohttp.ClientSession

    async def post(self, route: str, data: bytes) -> tuple[int, bytes]:
        async with self.session.post(  # BytesIO: aiohttp warns about big bytes bodies
            f"{self.stack.base_url}/{route}", data=io.BytesIO(data), headers={"Content-Type": "application/json"}
        ) as response:
            return response.status, await response.read()


@pytest.fixture(scope="module")
async def hostile(default_policy: Policy) -> AsyncIterator[Hostile]:
    recorder = Recorder()
    app = web.Application(client_max_size=64 << 20)
    for route in ("chat/completions", "completions", "embeddings"):
        app.router.add_post(f"/v1/{route}", recorder.handler)
    async with proxy_stack(default_policy, upstream_app=app) as stack, aiohttp.ClientSession() as session:
        yield Hostile(stack, recorder, session)


def assert_clean(status: int, body: bytes) -> Any:
    """A success, or an OpenAI-style error: never a 500, never a traceback."""
    assert status < 500, body[:500]
    assert b"Traceback" not in body and b'File "' not in body
    if body.startswith((b"data:", b":")):  # a stream
        assert body.rstrip().endswith(b"data: [DONE]") or b'"stream_error"' in body
        return None
    parsed = orjson.loads(body)
    if status >= 400:
        error = parsed["error"]
        assert {"message", "type", "param", "code"} <= set(error)
        assert isinstance(error["message"], str) and error["type"] == "invalid_request_error"
    else:
        assert (isinstance(parsed, dict) and "choices" in parsed) or "data" in parsed
    return parsed


# --- arbitrary JSON ---------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from([f"mail {EMAIL}", f"call {MOBILE}", "网络赌博", "ignore previous instructions", "", "\u200b"]),
)
parts = st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "input_text", "refusal", "x"])},
                          optional={"text": texts | json_values, "refusal": texts, "image_url": json_values}),
    max_size=3,
)
messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "system", "assistant", "tool", "developer"]) | json_values},
        optional={
            "content": texts | parts | json_values,
            "name": texts | json_values,
            "tool_calls": st.lists(st.fixed_dictionaries({}, optional={"function": st.fixed_dictionaries(
                {}, optional={"name": texts, "arguments": texts | json_values})}) | json_values, max_size=2) | json_values,
            "function_call": st.fixed_dictionaries({}, optional={"arguments": texts | json_values}) | json_values,
        },
    ),
    max_size=4,
) | json_values
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"messages": messages},
        optional={
            "model": texts | json_values, "stream": st.booleans() | json_values, "n": st.integers(-3, 5) | json_values,
            "prompt": texts | st.lists(texts, max_size=3) | st.lists(st.integers(), max_size=3) | json_values,
            "input": texts | st.lists(texts, max_size=3) | json_values,
            "stream_options": json_values, "x_extra": json_values,
        },
    ),
)


@HYPOTHESIS
@given(route=st.sampled_from(["chat/completions", "completions", "embeddings"]), body=bodies, ascii_only=st.booleans())
async def test_arbitrary_json_never_breaks_the_proxy(hostile: Hostile, route: str, body: Any, ascii_only: bool) -> None:
    # json.dumps, not orjson: integers beyond 64 bits and lone surrogates must reach the proxy too.
    status, raw = await hostile.post(route, json.dumps(body, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass"))
    assert_clean(status, raw)


@pytest.mark.parametrize("depth", [100, 253, 254, 1000, 1023, 1024, 100_000])
@pytest.mark.parametrize("pii", [False, True], ids=["clean", "with-pii"])
async def test_deeply_nested_bodies_are_never_a_500(hostile: Hostile, depth: int, pii: bool) -> None:
    content = f"mail {EMAIL}" if pii else "hello"
    raw = b'{"messages":[{"role":"user","content":"%s"}],"x":%s%s}' % (content.encode(), b"[" * depth, b"]" * depth)
    status, body = await hostile.post("chat/completions", raw)
    assert_clean(status, body)
    assert status in (200, 400)


async def test_deeply_nested_answer_with_pii_is_not_a_500(default_policy: Policy) -> None:
    answer = orjson.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": f"mail {EMAIL}"}}]})
    deep = answer[:-1] + b',"x":' + b"[" * 300 + b"]" * 300 + b"}"

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=deep, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    async with proxy_stack(default_policy, upstream_app=app) as stack, aiohttp.ClientSession() as session, session.post(
        f"{stack.base_url}/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
    ) as r:
        status, body = r.status, await r.read()
    assert status == 502 and EMAIL.encode() not in body


@HYPOTHESIS
@given(prefix=st.text(max_size=10), bad=st.binary(min_size=1, max_size=8).filter(lambda b: not _utf8(b)))
async def test_invalid_utf8_is_a_400(hostile: Hostile, prefix: str, bad: bytes) -> None:
    raw = b'{"messages":[{"role":"user","content":"' + json.dumps(prefix)[1:-1].encode() + bad + b'"}]}'
    status, body = await hostile.post("chat/completions", raw)
    assert status == 400 and assert_clean(status, body)["error"]["code"] == "invalid_json"


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- big and slow -------------------------------------------------------------------------


async def test_ten_thousand_messages(hostile: Hostile) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": f"message {i} mail {EMAIL}"} for i in range(10_000)]}
    started = time.perf_counter()
    status, raw = await hostile.post("chat/completions", orjson.dumps(body))
    elapsed = time.perf_counter() - started
    assert status == 200, raw[:300]
    sent = orjson.loads(hostile.upstream.received[-1])["messages"]
    assert len(sent) == 10_000 and sent[9_999]["content"] == "message 9999 mail <EMAIL_ADDRESS>"
    assert EMAIL.encode() not in hostile.upstream.received[-1]
    print(f"\n10,000 messages guarded and forwarded in {elapsed:.2f} s")
    assert elapsed < 10


def ten_megabytes() -> str:
    """10,000,000 characters of prose with an e-mail address and a mobile number every ~100 KB."""
    block = "普通的一段文字，没有什么特别的。Plain filler text, nothing to see here. " * 1600
    block += f" 联系 {EMAIL} 或 {MOBILE}。"
    return (block * (10_000_000 // len(block) + 1))[:10_000_000]


async def while_probing(stack: Stack, work: Awaitable[T]) -> tuple[T, list[float]]:
    """Await `work` while another thread sends `/healthz` requests one after another.

    The latencies come from another thread: a client on the proxy's own event loop would stall
    with it and never see the stall as latency. The heap built so far is frozen meanwhile, as
    `guardrail-proxy serve` freezes its own after start-up: otherwise a full collection over
    this test process's heap (~100-180 ms) stalls the loop, whichever thread starts it.
    """
    host, port = stack.url.removeprefix("http://").split(":")
    latencies: list[float] = []
    stop, probing = threading.Event(), threading.Event()

    def probe() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            while not stop.is_set():
                started = time.perf_counter()
                connection.request("GET", "/healthz")
                assert connection.getresponse().read() == b'{"status": "ok"}'
                latencies.append(time.perf_counter() - started)
                probing.set()
                time.sleep(0.005)
        finally:
            connection.close()

    gc.collect()
    gc.freeze()
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        while not probing.is_set():
            await asyncio.sleep(0.005)
        result = await work
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 60)
        gc.unfreeze()
    return result, latencies


async def test_ten_megabyte_string_is_guarded_and_others_are_served(hostile: Hostile) -> None:
    content = ten_megabytes()
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": content}]})
    started = time.perf_counter()
    (status, raw), latencies = await while_probing(hostile.stack, hostile.post("chat/completions", body))
    elapsed = time.perf_counter() - started
    assert status == 200, raw[:300]
    forwarded = hostile.upstream.received[-1]
    assert EMAIL.encode() not in forwarded and MOBILE.encode() not in forwarded
    assert forwarded.count(b"<EMAIL_ADDRESS>") == content.count(EMAIL)
    print(f"\n10 MB prompt: guarded and answered in {elapsed:.2f} s; /healthz meanwhile: "
          f"{len(latencies)} requests, slowest {max(latencies) * 1000:.0f} ms")
    assert elapsed < 20 and max(latencies) < elapsed  # bounded; see test below for the stall


async def test_dense_identifiers_are_guarded_in_linear_time(hostile: Hostile) -> None:
    content = " ".join(f"a{i}@example.com 138{i:08d}" for i in range(1500))  # 44 KB, 4,500 findings
    started = time.perf_counter()
    status, _ = await hostile.post("chat/completions", orjson.dumps({"messages": [{"role": "user", "content": content}]}))
    elapsed = time.perf_counter() - started
    print(f"\n44 KB of 1,500 e-mail/mobile pairs guarded in {elapsed:.2f} s")
    assert status == 200 and elapsed < 1.0


async def test_other_requests_are_not_stalled_by_a_big_guard(hostile: Hostile) -> None:
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": ten_megabytes()}]})
    (status, _), latencies = await while_probing(hostile.stack, hostile.post("chat/completions", body))
    assert status == 200
    assert max(latencies) < 0.25


@pytest.mark.parametrize("digits", ["0123456789", "٠١٢٣٤٥٦٧٨٩", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗"], ids=["ascii", "arabic-indic", "math-bold"])
async def test_a_small_prompt_of_crafted_numbers_does_not_stall_others(hostile: Hostile, digits: str) -> None:
    # 4 KB of made-up international numbers: each is read in all nine phone regions (~120 ms in
    # all), so although it is short it goes to the guard's thread pool (`flow.guard_weight`),
    # in whatever script its digits are written (review).
    numbers = itertools.count(1_234_567, 7_919)
    content = "".join(f"+{next(numbers)} " for _ in range(455)).translate(str.maketrans("0123456789", digits))
    assert len(content) <= 4096
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": content}]})
    started = time.perf_counter()
    (status, _), latencies = await while_probing(hostile.stack, hostile.post("chat/completions", body))
    elapsed = time.perf_counter() - started
    print(f"\n4 KB of crafted numbers: answered in {elapsed * 1000:.0f} ms; /healthz meanwhile: "
          f"{len(latencies)} requests, slowest {max(latencies) * 1000:.0f} ms")
    assert status == 200
    assert max(latencies) < elapsed / 3  # held inline, the slowest waits about as long as the guard


async def test_a_short_prompt_of_chained_digit_groups_does_not_stall_others(
    hostile: Hostile, default_policy: Policy
) -> None:
    # Under 1,000 characters: rows of twenty groups that phonenumbers reads whole, then group by
    # group, in every region (~110 ms). Their digits alone did not make them heavy enough for
    # the thread pool.
    content = " ".join("tel " + " / ".join(str(n * 7 % 10) for n in range(row, row + 20)) for row in range(0, 240, 20))
    assert len(content) < 1000
    started = time.perf_counter()
    default_policy.detect(content, Direction.PROMPT)  # what guarding it costs, as the proxy would inline
    guard = time.perf_counter() - started
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": content}]})
    (status, _), latencies = await while_probing(hostile.stack, hostile.post("chat/completions", body))
    print(f"\n{len(content)} characters of chained groups: guarded in {guard * 1000:.0f} ms; /healthz meanwhile: "
          f"{len(latencies)} requests, slowest {max(latencies) * 1000:.0f} ms")
    assert status == 200
    assert max(latencies) < guard / 2  # held inline, the slowest waits about as long as the guard


def _one_chunk_upstream(content: str, cut_off: bool = False) -> web.Application:
    """An upstream that streams `content` as one chunk, then stops (`cut_off`: in the middle of
    that chunk's event, whose closing blank line never comes)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        head = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        event = sse({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": content},
                                          "finish_reason": None}]})
        if cut_off:
            await response.write(event.rstrip(b"\n") + b"\n")
        else:
            await response.write(event)
            await response.write(sse({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}) + DONE)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    return app


@pytest.mark.parametrize("digits", ["0123456789", "٠١٢٣٤٥٦٧٨٩"], ids=["ascii", "arabic-indic"])
async def test_a_stream_chunk_of_crafted_numbers_does_not_stall_others(default_policy: Policy, digits: str) -> None:
    # The same 4 KB of made-up numbers as one chunk of a stream: guarded on the thread pool too.
    numbers = itertools.count(1_234_567, 7_919)
    content = "".join(f"+{next(numbers)} " for _ in range(455)).translate(str.maketrans("0123456789", digits))
    app = _one_chunk_upstream(content)
    async with (proxy_stack(default_policy, upstream_app=app) as stack,
                openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-client", max_retries=0) as client):

        async def answer() -> str:
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "numbers, please"}], stream=True)
            return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])

        started = time.perf_counter()
        text, latencies = await while_probing(stack, answer())
        elapsed = time.perf_counter() - started
    print(f"\na 4 KB stream chunk of crafted numbers: {elapsed * 1000:.0f} ms; /healthz meanwhile: "
          f"{len(latencies)} requests, slowest {max(latencies) * 1000:.0f} ms")
    assert text == default_policy.evaluate(content, Direction.COMPLETION).text  # as guarded whole
    assert max(latencies) < elapsed / 3


async def test_a_stream_cut_off_in_its_last_event_is_weighed_too(default_policy: Policy) -> None:
    # The event the decoder flushes when the upstream ends mid-event is guarded like any other
    # (review: it was guarded inline, unweighed: a 62 K-character one held the loop 1.4 s).
    numbers = itertools.count(1_234_567, 7_919)
    content = "".join(f"+{next(numbers)} " for _ in range(455))
    async with (proxy_stack(default_policy, upstream_app=_one_chunk_upstream(content, cut_off=True)) as stack,
                openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-client", max_retries=0) as client):

        async def answer() -> str:
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "numbers, please"}], stream=True)
            with pytest.raises(openai.APIError):  # it ended without [DONE]
                async for _ in stream:
                    pass
            return "ended"

        started = time.perf_counter()
        _, latencies = await while_probing(stack, answer())
        elapsed = time.perf_counter() - started
    assert max(latencies) < elapsed / 3


async def test_a_stream_chunk_the_guard_cannot_finish_in_time_ends_the_stream(
    default_policy: Policy, tmp_path: Path
) -> None:
    numbers = itertools.count(1_234_567, 7_919)
    content = "mail li.lei@example.com " + "".join(f"+{next(numbers)} " for _ in range(455))
    audit = AuditConfig(path=tmp_path / "audit.jsonl", salt=b"test-salt")
    async with (proxy_stack(default_policy, upstream_app=_one_chunk_upstream(content), guard_timeout_seconds=0.01,
                            audit=audit) as stack,
                openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-client", max_retries=0) as client):
        stream = await client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "numbers, please"}], stream=True)
        received = []
        with pytest.raises(openai.APIError, match="could not finish"):
            async for chunk in stream:
                received.extend(choice.delta.content or "" for choice in chunk.choices)
    assert "li.lei" not in "".join(received)  # nothing of the unguarded chunk went out
    records = [orjson.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(r["direction"], r["action"]) for r in records] == [("prompt", "allow"), ("completion", "block")]


async def test_a_hundred_thousand_empty_messages_do_not_stall_others(hostile: Hostile) -> None:
    # 2.9 MB of empty messages: reading them (`request_slots`) took 0.2 s on the event loop
    # before any guarding, whose weight counts each message (review).
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": ""}] * 100_000})
    started = time.perf_counter()
    (status, raw), latencies = await while_probing(hostile.stack, hostile.post("chat/completions", body))
    elapsed = time.perf_counter() - started
    print(f"\n100,000 empty messages: answered in {elapsed * 1000:.0f} ms; /healthz meanwhile: "
          f"{len(latencies)} requests, slowest {max(latencies) * 1000:.0f} ms")
    assert status == 200, raw[:300]
    assert max(latencies) < elapsed / 6  # what stays inline: parsing the JSON (~35 ms) and relaying


async def test_ten_megabyte_string_over_the_limit_is_413(default_policy: Policy) -> None:
    async with proxy_stack(default_policy, max_body_bytes=1 << 20) as stack, aiohttp.ClientSession() as session:
        body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": ten_megabytes()}]})
        started = time.perf_counter()
        async with session.post(f"{stack.base_url}/chat/completions", data=io.BytesIO(body)) as response:
            status, raw = response.status, await response.read()
        assert (status, orjson.loads(raw)["error"]["code"]) == (413, "request_too_large")
        assert time.perf_counter() - started < 5
        assert stack.model.received == []
        async with session.post(f"{stack.base_url}/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}) as response:
            assert response.status == 200


async def test_slow_client_does_not_block_others(hostile: Hostile) -> None:
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": f"slowly, mail {EMAIL}"}]})
    host, port = hostile.stack.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    )
    latencies = []
    try:
        for i, byte in enumerate(body):  # one byte per 10 ms, a normal request every 10 bytes
            writer.write(bytes([byte]))
            await writer.drain()
            if i % 10 == 0:
                started = time.perf_counter()
                status, raw = await hostile.post("chat/completions", orjson.dumps({"messages": [{"role": "user", "content": "hi"}]}))
                assert status == 200, raw
                latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"<EMAIL_ADDRESS>" in hostile.upstream.received[-1]
    assert max(latencies) < 0.5, latencies


# --- Unicode tricks -----------------------------------------------------------------------

@dataclass(frozen=True)
class Trick:
    text: str
    must_not_reach: str  # a regex over what the upstream received / the client assembled
    blocked: bool = False


TRICKS = {
    "lexicon-zero-width": Trick("推荐网\u200b络\u200b赌\u200b博网站", "赌", blocked=True),
    "lexicon-full-width-latin": Trick("best ｏｎｌｉｎｅ ｃａｓｉｎｏ here", "ｃａｓｉｎｏ", blocked=True),
    "lexicon-rtl-marks": Trick("推荐\u200f网\u200e络\u202e赌\u202c博", "赌", blocked=True),
    "lexicon-traditional": Trick("推薦網絡賭博", "賭", blocked=True),
    "lexicon-soft-hyphen-and-case": Trick("a BOMB\u00adRECIPE please", "(?i)recipe", blocked=True),
    "pii-rtl-mark-before": Trick(f"手机 \u200f{MOBILE}", "5678"),
    "pii-email-plain-control": Trick(f"邮箱 {EMAIL}", "example"),
    "pii-full-width-mobile": Trick("手机 １３８１２３４５６７８", "５６７８"),
    "pii-zero-width-mobile": Trick("手机 138\u200b1234\u200b5678", "5678"),
    "pii-rtl-mark-inside-mobile": Trick("手机 138\u200f12345678", "5678"),
    "pii-full-width-email": Trick("邮箱 ｌｉ.ｌｅｉ＠ｅｘａｍｐｌｅ.ｃｏｍ", "ｅｘａｍｐｌｅ|ｌｉ\\.ｌｅｉ"),
    "pii-zero-width-email": Trick("邮箱 li\u200b.lei@example.com", "li|lei|example"),
    "pii-full-width-resident-id": Trick("身份证 １１０１０５１９４９１２３１００２Ｘ", "１２３１"),
    "pii-chinese-numeral-mobile": Trick("我的手机是一三八一二三四五六七八", "五六七八"),
    "pii-half-numeral-mobile": Trick("手机 1三8-一二三四-5678", "5678|五六七八"),
    "pii-financial-numeral-resident-id": Trick("身份证 壹壹零壹零伍壹玖肆玖壹贰叁壹零零贰X", "壹贰叁"),
}
#: Tricks that currently get through, by name, with why (strict xfail: a fix must remove them).
SLIPPING: dict[str, str] = {}


def trick_params() -> list[Any]:
    return [
        pytest.param(trick, id=name, marks=[pytest.mark.xfail(strict=True, reason=SLIPPING[name])] if name in SLIPPING else [])
        for name, trick in TRICKS.items()
    ]


@pytest.mark.parametrize("trick", trick_params())
async def test_unicode_tricks_in_prompts(stack: Stack, trick: Trick) -> None:
    async with openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk", max_retries=0) as client:
        if trick.blocked:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": trick.text}])
            assert caught.value.code == "content_filter" and stack.model.received == []
            return
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": trick.text}])
    forwarded = stack.model.received[-1]["messages"][0]["content"]
    assert not re.search(trick.must_not_reach, forwarded), forwarded


@pytest.mark.parametrize("trick", trick_params())
async def test_unicode_tricks_in_streamed_answers(stack: Stack, trick: Trick) -> None:
    stack.model.replies.append(f"好的。{trick.text}，还有别的吗？")
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    async with openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk", max_retries=0) as client:
        async for chunk in await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True):
            state.handle_chunk(chunk)
    choice = state.current_completion_snapshot.choices[0]
    assert choice.finish_reason == ("content_filter" if trick.blocked else "stop")
    assert not re.search(trick.must_not_reach, choice.message.content or ""), choice.message.content


# --- answers streamed in arbitrary splits -------------------------------------------------


@dataclass
class Script:
    """What the splitting upstream sends next: the stream's bytes, where to cut them, pauses."""

    payload: bytes = b""
    cuts: Sequence[int] = ()
    pause: float = 0.0


@asynccontextmanager
async def splitting_upstream(script: Script) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: the proxy's pool reuses the connection
            await read_request(reader)
            await http_head(writer)
            bounds = [0, *sorted(set(script.cuts)), len(script.payload)]
            for a, b in itertools.pairwise(bounds):
                await http_chunk(writer, script.payload[a:b])
                await asyncio.sleep(script.pause)
            await http_end(writer)

    async with raw_server(handle) as server:
        yield server.base_url


@pytest.fixture(scope="module")
async def splitting(default_policy: Policy) -> AsyncIterator[tuple[Stack, Script]]:
    script = Script()
    async with splitting_upstream(script) as base_url, proxy_in_front_of(base_url, default_policy) as stack:
        yield stack, script


fillers = st.sampled_from([
    "好的", "您好", "请注意", "Sure, here it is", "the answer is", "联系方式如下", "手机", "邮箱", "身份证号",
    "卡号", "thanks!", "以上", "Hello world", "。", "\n", "普通文本" * 10, "x" * 90,
])
STREAM_PLANTED = (EMAIL, MOBILE, RESIDENT_ID, CARD, "wang@example.cn", "+86 139 8765 4321")
segments = st.lists(st.one_of(fillers, fillers, st.sampled_from(STREAM_PLANTED)), min_size=1, max_size=12)
blocked_term = st.sampled_from([None, None, None, None, "网络赌博", "网 络 赌 博", "bomb recipe"])


@st.composite
def answers(draw: st.DrawFn) -> str:
    """Filler and planted identifiers, and now and then a listed term somewhere among them."""
    parts = draw(segments)
    term = draw(blocked_term)
    if term is not None:
        parts.insert(draw(st.integers(0, len(parts))), term)
    return " ".join(parts)


@HYPOTHESIS
@given(data=st.data(), answer=answers(), pause=st.sampled_from([0.0, 0.0, 0.001]))
async def test_any_split_of_a_streamed_answer_gives_the_whole_answer_decision(
    splitting: tuple[Stack, Script], default_policy: Policy, data: st.DataObject, answer: str, pause: float
) -> None:
    stack, script = splitting
    text_cuts = data.draw(st.lists(st.integers(0, len(answer)), max_size=8), label="text cuts")
    bounds = [0, *sorted(set(text_cuts)), len(answer)]
    events = [sse(chat_chunk("", role="assistant"))]
    events += [sse(chat_chunk(answer[a:b])) for a, b in itertools.pairwise(bounds) if b > a]
    events += [sse(chat_chunk(finish="stop")), DONE]
    script.payload = b"".join(events)
    script.cuts = data.draw(st.lists(st.integers(1, len(script.payload) - 1), max_size=12), label="byte cuts")
    script.pause = pause

    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    async with openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk", max_retries=0, timeout=10) as client:
        async for chunk in await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True):
            state.handle_chunk(chunk)
    choice = state.current_completion_snapshot.choices[0]
    got = choice.message.content or ""
    decision = default_policy.evaluate(answer, Direction.COMPLETION)
    if decision.blocked:
        assert choice.finish_reason == "content_filter"
        assert not re.search("赌|博|bomb|recipe", got)
    else:
        assert choice.finish_reason == "stop"
        assert got == decision.text
    for identifier in STREAM_PLANTED:
        assert identifier not in got


@pytest.mark.parametrize(("key", "value"), [("stream", 1), ("stream", "true"), ("stream", "yes"), ("n", "2"), ("n", 2.0), ("n", True)])
async def test_stream_and_n_must_have_their_openai_types(hostile: Hostile, key: str, value: Any) -> None:
    """A pydantic upstream reads `"stream": 1` as true and streams; the proxy would expect JSON."""
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], key: value}
    received = len(hostile.upstream.received)
    status, raw = await hostile.post("chat/completions", orjson.dumps(body))
    assert (status, orjson.loads(raw)["error"]["param"]) == (400, key)
    assert len(hostile.upstream.received) == received
