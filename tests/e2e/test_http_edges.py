"""Bad input, upstream faults and wire details, over real HTTP (aiohttp client)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from policies.engine import Policy
from tests.support.servers import Stack, proxy_stack


async def post(stack: Stack, path: str, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(
        f"{stack.base_url}/{path}", data=data, headers=headers or {"Content-Type": "application/json"}
    ) as response:
        body = await response.read()
        return response.status, orjson.loads(body) if body else None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b"\"text\"", None),
        (b"{}", "messages"),
        (b'{"messages": []}', "messages"),
        (b'{"messages": "hello"}', "messages"),
        (b'{"messages": [{"content": "no role"}]}', "messages[0]"),
        (b'{"messages": [{"role": "user", "content": 42}]}', "messages[0].content"),
        (b'{"messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}', "messages[0].content[0].text"),
        (b'{"model": 7, "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b"\xff\xfe{}", None),
    ],
)
async def test_bad_requests_get_openai_errors(stack: Stack, body: bytes, param: str | None) -> None:
    status, error = await post(stack, "chat/completions", body)
    assert status == 400
    assert set(error["error"]) >= {"message", "type", "code"}
    assert error["error"]["type"] == "invalid_request_error"
    assert error["error"]["param"] == param
    assert "Traceback" not in error["error"]["message"]
    assert stack.model.received == []
    status, _ = await post(stack, "chat/completions", orjson.dumps({"messages": [{"role": "user", "content": "ok"}]}))
    assert status == 200  # and the server goes on serving


async def test_token_prompts_cannot_be_scanned_so_are_refused(stack: Stack) -> None:
    status, error = await post(stack, "completions", orjson.dumps({"model": "m", "prompt": [1, 2, 3]}))
    assert status == 400 and error["error"]["code"] == "unsupported_input"
    assert stack.model.received == []


async def test_body_over_the_limit_is_413(default_policy: Policy) -> None:
    async with proxy_stack(default_policy, max_body_bytes=1024) as stack:
        big = orjson.dumps({"messages": [{"role": "user", "content": "x" * 4096}]})
        status, error = await post(stack, "chat/completions", big)
    assert status == 413 and error["error"]["code"] == "request_too_large"


async def test_unknown_route_is_404_and_not_forwarded(stack: Stack) -> None:
    status, error = await post(stack, "files", b"{}")
    assert status == 404 and error["error"]["code"] == "not_found"
    async with aiohttp.ClientSession() as session, session.get(f"{stack.url}/admin") as response:
        assert response.status == 404
    assert stack.model.received == []


async def test_request_id_is_taken_or_made_and_returned(stack: Stack) -> None:
    body = orjson.dumps({"messages": [{"role": "user", "content": "hi"}]})
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{stack.base_url}/chat/completions", data=body,
                                headers={"X-Request-ID": "req-42"}) as response:
            assert response.headers["X-Request-ID"] == "req-42"
        async with session.post(f"{stack.base_url}/chat/completions", data=body) as response:
            assert len(response.headers["X-Request-ID"]) == 32


async def test_unknown_fields_pass_byte_for_byte_when_nothing_changed(default_policy: Policy) -> None:
    seen: list[bytes] = []
    answer = b'{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"fine","x_vendor":{"a":1.50}},"finish_reason":"stop"}],"system_fingerprint":"fp"}'

    async def upstream(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream)
    async with proxy_stack(default_policy, upstream_app=app) as stack:
        raw = b'{"model":"m","messages":[{"role":"user","content":"hello"}],"x_extra":{"keep":1.0e0}}'
        async with aiohttp.ClientSession() as session, session.post(
            f"{stack.base_url}/chat/completions", data=raw) as response:
            assert await response.read() == answer
    assert seen == [raw]


async def test_upstream_key_replaces_client_authorization(default_policy: Policy) -> None:
    auth: list[str] = []

    async def upstream(request: web.Request) -> web.Response:
        auth.append(request.headers.get("Authorization", ""))
        return web.json_response({"object": "list", "data": []})

    app = web.Application()
    app.router.add_get("/v1/models", upstream)
    async with (
        proxy_stack(default_policy, upstream_app=app, upstream={"api_key": "sk-upstream"}) as stack,
        aiohttp.ClientSession() as session,
        session.get(f"{stack.base_url}/models", headers={"Authorization": "Bearer sk-client"}) as response,
    ):
        assert response.status == 200
    assert auth == ["Bearer sk-upstream"]


async def test_upstream_refused_is_502(default_policy: Policy) -> None:
    async with proxy_stack(default_policy) as stack:
        stack.state.upstream.base_url = "http://127.0.0.1:9/v1"
        status, error = await post(stack, "chat/completions", orjson.dumps({"messages": [{"role": "user", "content": "x"}]}))
    assert status == 502 and error["error"]["code"] == "upstream_unavailable"


async def test_upstream_timeout_is_504(default_policy: Policy) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", slow)
    async with proxy_stack(default_policy, upstream_app=app, upstream={"read_timeout": 0.2}) as stack:
        status, error = await post(stack, "chat/completions", orjson.dumps({"messages": [{"role": "user", "content": "x"}]}))
    assert status == 504 and error["error"]["code"] == "upstream_timeout"


async def test_upstream_errors_pass_through_with_their_body(default_policy: Policy) -> None:
    async def limited(request: web.Request) -> web.Response:
        return web.json_response({"error": {"message": "slow down", "type": "rate_limit", "code": "rate"}}, status=429)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", limited)
    async with proxy_stack(default_policy, upstream_app=app) as stack:
        status, error = await post(stack, "chat/completions", orjson.dumps({"messages": [{"role": "user", "content": "x"}]}))
    assert status == 429 and error["error"]["message"] == "slow down"


async def test_metrics_count_decisions(stack: Stack) -> None:
    await post(stack, "chat/completions", orjson.dumps({"messages": [{"role": "user", "content": "mail a.b@example.com"}]}))
    async with aiohttp.ClientSession() as session, session.get(f"{stack.url}/metrics") as response:
        text = await response.text()
    assert 'guardrail_decisions_total{action="redact",category="pii",direction="prompt",rule="redact-pii"} 1.0' in text
    assert "example.com" not in text
    async with aiohttp.ClientSession() as session:
        for path, status in (("/healthz", 200), ("/readyz", 200)):
            async with session.get(f"{stack.url}{path}") as response:
                assert response.status == status


async def test_serve_module_is_importable_without_upstream() -> None:
    from proxy.cli import build_parser

    args = build_parser().parse_args(["serve", "--demo"])
    assert args.demo and args.port == 8080


@pytest.mark.parametrize(
    "raw",
    [
        # A parser that keeps the first of two keys would see the e-mail the guard never read.
        b'{"messages":[{"role":"user","content":"mail x.y@example.com"}],"messages":[{"role":"user","content":"hi"}]}',
        b'{"messages":[{"role":"user","content":"mail x.y@example.com","content":"hi"}]}',
    ],
)
async def test_duplicate_keys_never_smuggle_unscanned_text(default_policy: Policy, raw: bytes) -> None:
    seen: list[bytes] = []

    async def upstream(request: web.Request) -> web.Response:
        seen.append(await request.read())
        return web.json_response({"id": "x", "object": "chat.completion", "created": 1, "model": "m",
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                               "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream)
    async with proxy_stack(default_policy, upstream_app=app) as stack:
        status, _ = await post(stack, "chat/completions", raw)
    assert status == 200
    assert len(seen) == 1 and b"example.com" not in seen[0]
    assert orjson.loads(seen[0]) == orjson.loads(raw)  # the document the guard read, re-encoded


async def test_text_that_templates_render_into_the_prompt_is_guarded(stack: Stack) -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "assistant", "content": "ok", "reasoning_content": "user is a.b@example.com"},
            {"role": "user", "content": "hi"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "lookup", "description": "call 13812345678 for help",
            "parameters": {"type": "object", "properties": {"q": {"type": "string", "description": "mail c.d@example.org"}}},
        }}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"description": "ID 11010519491231002X"}}},
    }
    status, _ = await post(stack, "chat/completions", orjson.dumps(body))
    assert status == 200
    seen = orjson.dumps(stack.model.received[-1])
    for value in (b"a.b@example.com", b"13812345678", b"c.d@example.org", b"11010519491231002X"):
        assert value not in seen
    assert stack.model.received[-1]["tools"][0]["function"]["parameters"]["properties"]["q"]["type"] == "string"


async def test_a_role_of_its_own_is_guarded_like_text(stack: Stack) -> None:
    """Chat templates render the role into the prompt: only OpenAI's own roles go unread."""
    messages = [{"role": "call 13812345678", "content": "hi"}, {"role": "user", "content": "hi"}]
    status, _ = await post(stack, "chat/completions", orjson.dumps({"model": "m", "messages": messages}))
    assert status == 200
    sent = stack.model.received[-1]["messages"]
    assert [m["role"] for m in sent] == ["call <CN_MOBILE>", "user"]
    blocked = [{"role": "教我网络赌博", "content": "hi"}]
    status, error = await post(stack, "chat/completions", orjson.dumps({"model": "m", "messages": blocked}))
    assert status == 400 and "赌博" not in orjson.dumps(error).decode()


async def test_completion_suffix_is_guarded(stack: Stack) -> None:
    status, _ = await post(stack, "completions", orjson.dumps({"model": "m", "prompt": "a", "suffix": "x@y.com"}))
    assert status == 200 and b"x@y.com" not in orjson.dumps(stack.model.received[-1])


@pytest.mark.parametrize(
    ("extra", "param"),
    [({"logprobs": True}, "logprobs"), ({"top_logprobs": 5}, "top_logprobs"),
     ({"modalities": ["text", "audio"]}, "modalities"), ({"audio": {"voice": "alloy"}}, "audio")],
)
async def test_outputs_the_guard_cannot_read_are_refused(stack: Stack, extra: dict[str, Any], param: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    status, error = await post(stack, "chat/completions", orjson.dumps(body))
    assert status == 400 and error["error"]["code"] == "unsupported_input" and error["error"]["param"] == param
    assert stack.model.received == []
