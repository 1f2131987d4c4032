"""A misbehaving upstream behind the proxy: every fault ends cleanly, is counted, leaks nothing.

Each case runs the proxy in front of an upstream written to fail one way (refusing, never
accepting, never answering, cutting a body or a stream short, sending bytes that are not what
they claim to be), then checks four things: the client gets the right status or a clean stream
termination (the `openai` SDK raises `APIError`); the fault is counted in `/metrics`; no task
and no upstream connection is left behind; and the same proxy then serves a normal request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web

from policies.engine import Policy
from policies.findings import Direction
from proxy.app import create_app
from proxy.demo import create_demo_app
from proxy.sse import SSEDecoder, SSEEvent
from proxy.state import Settings
from proxy.upstream import UpstreamConfig
from tests.support.bad_upstreams import (
    DONE,
    chat_chunk,
    chat_completion,
    delta,
    http_chunk,
    http_end,
    http_head,
    raw_server,
    read_request,
    scrape,
    settled_connections,
    settled_tasks,
    sse,
    unaccepting_listener,
)
from tests.support.processes import free_port
from tests.support.servers import Stack, proxy_in_front_of, serve

EMAIL = "li.lei@example.com"
MOBILE = "13812345678"
PLANTED = (EMAIL, MOBILE, "网络赌博")
REQUEST = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
LIMITS: dict[str, Any] = {"upstream": {"connect_timeout": 0.3, "read_timeout": 0.3}, "max_response_bytes": 1 << 20}

Upstream = Callable[[], AbstractAsyncContextManager[tuple[str, int]]]


# --- upstreams --------------------------------------------------------------------------


def raw(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> Upstream:
    @asynccontextmanager
    async def run() -> AsyncIterator[tuple[str, int]]:
        async with raw_server(handle) as server:
            yield server.base_url, server.port

    return run


def app(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Upstream:
    @asynccontextmanager
    async def run() -> AsyncIterator[tuple[str, int]]:
        application = web.Application()
        application.router.add_post("/v1/chat/completions", handler)
        async with serve(application) as url:
            yield f"{url}/v1", int(url.rsplit(":", 1)[1])

    return run


@asynccontextmanager
async def refusing() -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    yield f"http://127.0.0.1:{port}/v1", port


@asynccontextmanager
async def never_accepting() -> AsyncIterator[tuple[str, int]]:
    with unaccepting_listener() as port:
        yield f"http://127.0.0.1:{port}/v1", port


async def no_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await reader.read()  # answer nothing; return only when the proxy hangs up


async def stalled_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await http_head(writer, content_type="application/json", length=1000)
    writer.write(b'{"choices": [')
    await reader.read()


async def cut_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await http_head(writer, content_type="application/json", length=1000)
    writer.write(b'{"choices": [')
    await writer.drain()


async def invalid_json(request: web.Request) -> web.Response:
    return web.Response(body=b'{"choices": [{"message": ', content_type="application/json")


async def huge(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(chat_completion("x" * (2 << 20))), content_type="application/json")


def stream_of(*events: bytes, then: str = "end") -> Upstream:
    """A raw SSE upstream: `events`, then `end` (clean chunked end), `stall` or `close`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await http_head(writer)
        for event in events:
            await http_chunk(writer, event)
        if then == "end":
            await http_end(writer)
        elif then == "stall":
            await reader.read()
        # "close": the handler returns and the socket closes mid-body

    return raw(handle)


HELLO = sse(chat_chunk("Hello, ", role="assistant"))
WORLD = sse(chat_chunk("world, this is fine."))


# --- helpers ----------------------------------------------------------------------------


@dataclass
class Probe:
    """What is running before a fault, to compare with what is left after it."""

    stack: Stack
    port: int
    tasks: int

    async def assert_nothing_leaked(self, pooled: int = 0) -> None:
        """At most `pooled` keep-alive connections (each with its upstream-side task) remain."""
        connections = await settled_connections(self.port, pooled)
        assert connections <= pooled, f"{connections} connections to the upstream left open"
        tasks = await settled_tasks(self.tasks + connections)
        assert tasks <= self.tasks + connections, [t.get_coro() for t in asyncio.all_tasks()]
        assert (await scrape(self.stack.url))[("guardrail_active_streams", frozenset())] == 0

    async def assert_still_serving(self) -> None:
        async with serve(create_demo_app()) as healthy:
            self.stack.state.upstream.base_url = f"{healthy}/v1"
            async with sdk(self.stack) as client:
                reply = await client.chat.completions.create(
                    model="demo-echo", messages=[{"role": "user", "content": f"mail {EMAIL}"}]
                )
                assert reply.choices[0].message.content == "You said: mail <EMAIL_ADDRESS>"
                stream = await client.chat.completions.create(
                    model="demo-echo", messages=[{"role": "user", "content": "ok"}], stream=True
                )
                assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "You said: ok"


@asynccontextmanager
async def behind_proxy(upstream: Upstream, policy: Policy) -> AsyncIterator[Probe]:
    async with upstream() as (base_url, port), proxy_in_front_of(base_url, policy, **LIMITS) as stack:
        await asyncio.sleep(0)
        yield Probe(stack, port, len(asyncio.all_tasks()))


def sdk(stack: Stack) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-test", max_retries=0, timeout=10)


async def post(stack: Stack, body: object, path: str = "chat/completions") -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.post(
        f"{stack.base_url}/{path}", data=orjson.dumps(body), headers={"Content-Type": "application/json"}
    ) as response:
        return response.status, await response.read()


def events(raw_body: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    items = decoder.decode(raw_body) + decoder.flush()
    return [item for item in items if isinstance(item, SSEEvent)]


# --- non-streamed faults ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("upstream", "status", "code", "kind", "pooled"),
    [
        pytest.param(refusing, 502, "upstream_unavailable", "refused", 0, id="connection-refused"),
        pytest.param(never_accepting, 504, "upstream_timeout", "timeout", None, id="connect-timeout"),
        pytest.param(raw(no_headers), 504, "upstream_timeout", "timeout", 0, id="no-response-headers"),
        pytest.param(raw(stalled_body), 504, "upstream_timeout", "timeout", 0, id="body-stalls"),
        pytest.param(raw(cut_body), 502, "upstream_unavailable", "protocol", 0, id="body-cut-short"),
        pytest.param(app(invalid_json), 502, "upstream_unavailable", "protocol", 1, id="invalid-json"),
        pytest.param(app(huge), 502, "upstream_unavailable", "too_large", 0, id="over-max-response-bytes"),
    ],
)
async def test_upstream_fault_is_a_clean_error(
    default_policy: Policy, upstream: Upstream, status: int, code: str, kind: str, pooled: int | None
) -> None:
    async with behind_proxy(upstream, default_policy) as probe:
        before = await scrape(probe.stack.url)
        started = time.perf_counter()
        got, body = await post(probe.stack, REQUEST)
        elapsed = time.perf_counter() - started
        error = orjson.loads(body)["error"]
        assert (got, error["code"], error["type"]) == (status, code, "upstream_error")
        assert "Traceback" not in error["message"]
        assert elapsed < 2.0  # timeouts are 0.3 s: nothing waits for a default
        after = await scrape(probe.stack.url)
        assert delta(before, after, "guardrail_upstream_errors_total", kind=kind) == 1
        assert delta(before, after, "guardrail_upstream_errors_total") == 1
        assert delta(before, after, "guardrail_requests_total", route="chat/completions", status=str(status)) == 1
        if pooled is not None:  # (the connect-timeout fillers are connections of their own)
            await probe.assert_nothing_leaked(pooled)
        await probe.assert_still_serving()


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_upstream_error_status_passes_through_with_its_body(default_policy: Policy, status: int) -> None:
    body = orjson.dumps({"error": {"message": f"upstream says {status}", "type": "server_error", "param": None, "code": "busy"}})

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=status, body=body, content_type="application/json", headers={"Retry-After": "7"})

    async with behind_proxy(app(failing), default_policy) as probe:
        before = await scrape(probe.stack.url)
        got, raw_body = await post(probe.stack, REQUEST)
        assert (got, raw_body) == (status, body)
        async with sdk(probe.stack) as client:
            with pytest.raises(openai.APIStatusError) as caught:
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        assert caught.value.status_code == status
        assert f"upstream says {status}" in caught.value.message and caught.value.code == "busy"
        assert caught.value.response.headers["Retry-After"] == "7"
        after = await scrape(probe.stack.url)
        assert delta(before, after, "guardrail_upstream_errors_total", kind="status") == 2
        await probe.assert_nothing_leaked(pooled=1)
        await probe.assert_still_serving()


WRONG_SHAPES = {
    "choices-not-a-list": {"id": "x", "choices": {"0": {"message": {"role": "assistant", "content": EMAIL}}}},
    "choice-not-an-object": {"id": "x", "choices": [f"call {MOBILE}"]},
    "message-not-an-object": {"id": "x", "choices": [{"index": 0, "message": f"call {MOBILE}"}]},
    "content-a-number": {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": 13812345678}}]},
    "content-a-list": {"id": "x", "choices": [{"index": 0, "message": {"content": [{"type": "text", "text": EMAIL}]}}]},
    "tool-calls-not-a-list": {"id": "x", "choices": [{"index": 0, "message": {"tool_calls": {"arguments": EMAIL}}}]},
    "arguments-an-object": {"id": "x", "choices": [
        {"index": 0, "message": {"tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"to": EMAIL}}}]}}]},
    "not-an-object": [{"message": {"content": EMAIL}}],
    # `index: null` once made the refusal miss the blocked choice, which went out as it came
    "index-null-and-blocked": {"id": "x", "choices": [{"index": None, "message": {"content": "Try 网络赌博 now"}}]},
    "index-a-string": {"id": "x", "choices": [{"index": "0", "message": {"content": EMAIL}}]},
}


def returning(body: object) -> Upstream:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    return app(handler)


@pytest.mark.parametrize("shape", WRONG_SHAPES.values(), ids=WRONG_SHAPES.keys())
async def test_upstream_json_of_the_wrong_shape_is_502_and_never_forwarded(default_policy: Policy, shape: object) -> None:
    async with behind_proxy(returning(shape), default_policy) as probe:
        got, body = await post(probe.stack, REQUEST)
        assert got == 502
        assert orjson.loads(body)["error"]["code"] == "upstream_unavailable"
        assert not any(secret in body.decode() for secret in PLANTED)
        await probe.assert_nothing_leaked(pooled=1)
        await probe.assert_still_serving()


async def test_upstream_json_of_the_wrong_shape_is_counted(default_policy: Policy) -> None:
    async with behind_proxy(returning(WRONG_SHAPES["content-a-number"]), default_policy) as probe:
        before = await scrape(probe.stack.url)
        got, _ = await post(probe.stack, REQUEST)
        after = await scrape(probe.stack.url)
    assert got == 502
    assert delta(before, after, "guardrail_upstream_errors_total", kind="protocol") == 1


# --- streamed faults --------------------------------------------------------------------


def with_deep_field(chunk: dict[str, object], depth: int) -> bytes:
    """`chunk` plus a field nested `depth` arrays deep (orjson reads 1024 levels, writes 254)."""
    return orjson.dumps(chunk)[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}"


STREAM_FAULTS = {
    "ends-without-done": (stream_of(HELLO, WORLD), "protocol"),
    "ends-inside-an-event": (stream_of(HELLO, b'data: {"choices": [{"index": 0, "delta": {"content": "wor'), "protocol"),
    "invalid-json-data": (stream_of(HELLO, b"data: {not json}\n\n", DONE), "protocol"),
    "invalid-utf8": (stream_of(HELLO, b'data: {"choices": [{"index": 0, "delta": {"content": "\xff\xfe"}}]}\n\n', DONE), "protocol"),
    "utf8-cut-at-end": (stream_of(HELLO, "data: 你".encode()[:-1]), "protocol"),
    "stalls-mid-stream": (stream_of(HELLO, WORLD, then="stall"), "timeout"),
    "disconnects-halfway": (stream_of(HELLO, WORLD, then="close"), "protocol"),
    "content-a-number": (stream_of(HELLO, sse(chat_chunk(content=13812345678)), DONE), "protocol"),  # type: ignore[arg-type]
    "delta-not-an-object": (stream_of(HELLO, sse({"choices": [{"index": 0, "delta": f"call {MOBILE}"}]}), DONE), "protocol"),
    "chunk-not-an-object": (stream_of(HELLO, sse(f"mail {EMAIL}, call {MOBILE}"), DONE), "protocol"),
    "chunk-a-list": (stream_of(HELLO, sse([{"delta": {"content": EMAIL}}]), DONE), "protocol"),
    "tool-calls-not-a-list": (stream_of(HELLO, sse(chat_chunk(tool_calls=f"mail {EMAIL}")), DONE), "protocol"),
    "tool-call-function-not-an-object": (
        stream_of(HELLO, sse(chat_chunk(tool_calls=[{"index": 0, "function": f"mail {EMAIL}"}])), DONE), "protocol"),
    "tool-call-index-null": (
        stream_of(HELLO, sse(chat_chunk(tool_calls=[{"index": None, "function": {"arguments": EMAIL}}])), DONE), "protocol"),
    "function-call-not-an-object": (stream_of(HELLO, sse(chat_chunk(function_call=f"mail {EMAIL}")), DONE), "protocol"),
    "choice-index-a-string": (
        stream_of(HELLO, sse({"choices": [{"index": "0", "delta": {"content": f"mail {EMAIL}"}}]}), DONE), "protocol"),
    "too-deep-to-reencode": (stream_of(HELLO, sse(with_deep_field(chat_chunk(f"mail {EMAIL} " * 8), 300)), DONE), "protocol"),
}


@pytest.mark.parametrize(("upstream", "kind"), STREAM_FAULTS.values(), ids=STREAM_FAULTS.keys())
async def test_broken_stream_ends_with_an_error_event(default_policy: Policy, upstream: Upstream, kind: str) -> None:
    async with behind_proxy(upstream, default_policy) as probe:
        before = await scrape(probe.stack.url)
        seen: list[str] = []
        async with sdk(probe.stack) as client:
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            with pytest.raises(openai.APIError) as caught:
                async for chunk in stream:
                    seen.append(chunk.model_dump_json())
        assert "upstream stream failed" in caught.value.message
        assert not any(secret in "".join(seen) for secret in PLANTED)
        after = await scrape(probe.stack.url)
        assert delta(before, after, "guardrail_upstream_errors_total", kind=kind) == 1
        assert delta(before, after, "guardrail_fail_closed_total", direction="completion", reason="stream_broken") == 1
        await probe.assert_nothing_leaked()
        await probe.assert_still_serving()


MALFORMED = [name for name in STREAM_FAULTS if "-a-" in name or "-an-" in name or "null" in name or "deep" in name]


@pytest.mark.parametrize("name", MALFORMED)
async def test_malformed_stream_chunks_are_never_forwarded(default_policy: Policy, name: str) -> None:
    upstream, _ = STREAM_FAULTS[name]
    async with behind_proxy(upstream, default_policy) as probe:
        got, body = await post(probe.stack, {**REQUEST, "stream": True})
    assert got == 200
    assert not any(secret in body.decode() for secret in PLANTED)
    last = events(body)[-1]
    assert last.data != "[DONE]" and orjson.loads(last.data)["error"]["code"] == "stream_error"


async def test_chunk_with_an_error_key_and_choices_is_guarded_like_any_chunk(default_policy: Policy) -> None:
    """Only a chunk that is *just* an error passes unguarded; one with choices is model text."""
    text = f"mail {EMAIL} or call {MOBILE}, " * 4
    upstream = stream_of(HELLO, sse({**chat_chunk(text), "error": None}), sse(chat_chunk(finish="stop")), DONE)
    async with behind_proxy(upstream, default_policy) as probe, sdk(probe.stack) as client:
        stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        got = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert got == "Hello, " + default_policy.evaluate(text, Direction.COMPLETION).text


async def test_upstream_error_event_is_relayed_and_the_sdk_raises_it(default_policy: Policy) -> None:
    """An in-stream `{"error": ...}` (vLLM, OpenAI) is the upstream's own message: forwarded."""
    error = {"error": {"message": "model overloaded", "type": "server_error", "param": None, "code": 503}}
    async with behind_proxy(stream_of(HELLO, sse(error)), default_policy) as probe:
        async with sdk(probe.stack) as client:
            stream = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
            with pytest.raises(openai.APIError, match="model overloaded"):
                async for _ in stream:
                    pass
        await probe.assert_nothing_leaked()


# --- the client goes away ---------------------------------------------------------------


@dataclass
class SlowModel:
    """Streams one chunk per 50 ms, 200 chunks, and notes when its client hung up."""

    sent: int = 0
    disconnected_at: float | None = None

    async def handler(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            await response.write(sse(chat_chunk("", role="assistant")))
            for i in range(200):
                await response.write(sse(chat_chunk(f"word{i:03d} " * 3)))
                self.sent += 1
                await asyncio.sleep(0.05)
            await response.write(sse(chat_chunk(finish="stop")) + DONE)
        except ConnectionResetError:
            self.disconnected_at = time.perf_counter()
        except asyncio.CancelledError:
            self.disconnected_at = time.perf_counter()
            raise
        return response


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[SSEEvent]:
    decoder, got = SSEDecoder(), []
    async for raw_bytes in response.content.iter_any():
        got += [e for e in decoder.decode(raw_bytes) if isinstance(e, SSEEvent) and '"content":"' in e.data
                and '"content":""' not in e.data]
        if len(got) >= count:
            return got
    raise AssertionError("the stream ended early")


async def test_client_disconnect_mid_stream_cancels_the_upstream_at_once(
    default_policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    model = SlowModel()
    async with behind_proxy(app(model.handler), default_policy) as probe:
        before = await scrape(probe.stack.url)
        async with aiohttp.ClientSession() as session:
            response = await session.post(f"{probe.stack.base_url}/chat/completions", json={**REQUEST, "stream": True})
            await read_events(response, 2)
            response.close()  # drops the connection, like a user closing the tab
            hung_up = time.perf_counter()
        while model.disconnected_at is None and time.perf_counter() - hung_up < 3:
            await asyncio.sleep(0.01)
        assert model.disconnected_at is not None, "the upstream never saw the client leave"
        assert model.disconnected_at - hung_up < 1.0
        stopped_at = model.sent
        await asyncio.sleep(0.3)
        assert model.sent == stopped_at < 30  # it stopped generating
        # An ordinary departure: no "Error handling request" traceback, and the request is counted.
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("aiohttp")] == []
        after = await scrape(probe.stack.url)
        assert delta(before, after, "guardrail_requests_total", route="chat/completions") == 1
        await probe.assert_nothing_leaked()
        await probe.assert_still_serving()


@asynccontextmanager
async def serve_cancelling(application: web.Application) -> AsyncIterator[str]:
    """Like `serve`, with aiohttp's `handler_cancellation=True` (what `serve` should run with)."""
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=1.0, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_silent_upstream_is_cancelled_when_the_client_leaves_with_handler_cancellation(default_policy: Policy) -> None:
    """With nothing to write, the relay notices a departed client only if aiohttp cancels it.

    `web.run_app` defaults to `handler_cancellation=False`: a client that leaves while the model
    is silent (a long prompt, a reasoning pause) holds the upstream until `--read-timeout`.
    With cancellation on, `relay_stream` closes the upstream at once and leaks nothing.
    """
    hung_up: list[float] = []

    async def thinking(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(sse(chat_chunk("word " * 40, role="assistant")))
        try:
            await asyncio.sleep(30)  # silent: nothing for the proxy to write
        except asyncio.CancelledError:
            hung_up.append(time.perf_counter())
            raise
        return response

    upstream_app = web.Application()
    upstream_app.router.add_post("/v1/chat/completions", thinking)
    async with serve_cancelling(upstream_app) as upstream_url:
        port = int(upstream_url.rsplit(":", 1)[1])
        proxy_app = create_app(Settings(UpstreamConfig(f"{upstream_url}/v1"), reload_poll_seconds=0), default_policy)
        async with serve_cancelling(proxy_app) as proxy_url:
            tasks = len(asyncio.all_tasks())
            async with aiohttp.ClientSession() as session:
                response = await session.post(f"{proxy_url}/v1/chat/completions", json={**REQUEST, "stream": True})
                await response.content.readany()
                response.close()
                left = time.perf_counter()
            while not hung_up and time.perf_counter() - left < 3:
                await asyncio.sleep(0.01)
            assert hung_up and hung_up[0] - left < 1.0
            assert await settled_connections(port, 0) == 0
            assert await settled_tasks(tasks) <= tasks
            assert (await scrape(proxy_url))[("guardrail_active_streams", frozenset())] == 0
