"""A built-in demo model that speaks the OpenAI wire format exactly, deterministically.

It answers by repeating the user's last message, so a newcomer sees what the model received
(already redacted) and that the answer is guarded on its way back. Tests use the same server as
their upstream: it records every request body it received and can be given scripted replies.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections import deque
from typing import Any

import orjson
from aiohttp import web

DEMO_MODEL = "demo-echo"
CHUNK_CHARS = 4


class DemoModel:
    """State of one demo model server: what it received, and replies queued by tests."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.replies: deque[str] = deque()
        self._ids = itertools.count(1)

    def reply_for(self, body: dict[str, Any]) -> str:
        if self.replies:
            return self.replies.popleft()
        return "You said: " + last_user_text(body)

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-demo-{next(self._ids)}"


DEMO_KEY = web.AppKey("demo_model", DemoModel)


def last_user_text(body: dict[str, Any]) -> str:
    if "prompt" in body:
        prompt = body["prompt"]
        return prompt if isinstance(prompt, str) else " ".join(str(p) for p in prompt)
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


def _usage(prompt: str, reply: str) -> dict[str, int]:
    prompt_tokens, completion_tokens = len(prompt.split()) + 1, len(reply.split()) + 1
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _pieces(text: str) -> list[str]:
    return [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]


async def _body(request: web.Request) -> dict[str, Any]:
    body = orjson.loads(await request.read())
    request.app[DEMO_KEY].received.append(body)
    return body  # type: ignore[no-any-return]


async def models(request: web.Request) -> web.Response:
    data = [{"id": DEMO_MODEL, "object": "model", "created": 1732665600, "owned_by": "guardrail-proxy"}]
    return web.json_response({"object": "list", "data": data})


async def _answer(request: web.Request, id_prefix: str) -> tuple[dict[str, Any], str, dict[str, Any], dict[str, int]]:
    """The request, the reply to give, the fields every answer object shares, and the usage."""
    body = await _body(request)
    demo = request.app[DEMO_KEY]
    reply = demo.reply_for(body)
    base = {"id": demo.next_id(id_prefix), "created": int(time.time()), "model": body.get("model", DEMO_MODEL)}
    return body, reply, base, _usage(last_user_text(body), reply)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    body, reply, base, usage = await _answer(request, "chatcmpl")
    if not body.get("stream"):
        choice = {
            "index": 0, "message": {"role": "assistant", "content": reply, "refusal": None},
            "logprobs": None, "finish_reason": "stop",
        }
        return web.json_response({**base, "object": "chat.completion", "choices": [choice], "usage": usage})
    chunks: list[dict[str, Any]] = [{"index": 0, "delta": {"role": "assistant", "content": ""}}]
    chunks += [{"index": 0, "delta": {"content": piece}} for piece in _pieces(reply)]
    chunks += [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    events = [
        {**base, "object": "chat.completion.chunk", "choices": [{"logprobs": None, "finish_reason": None, **c}]}
        for c in chunks
    ]
    return await _stream(request, events, base, "chat.completion.chunk", usage, body)


async def completions(request: web.Request) -> web.StreamResponse:
    body, reply, base, usage = await _answer(request, "cmpl")
    if not body.get("stream"):
        choice = {"index": 0, "text": reply, "logprobs": None, "finish_reason": "stop"}
        return web.json_response({**base, "object": "text_completion", "choices": [choice], "usage": usage})
    texts = [(piece, None) for piece in _pieces(reply)] + [("", "stop")]
    events = [
        {**base, "object": "text_completion",
         "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]}
        for text, finish in texts
    ]
    return await _stream(request, events, base, "text_completion", usage, body)


async def _stream(
    request: web.Request, events: list[dict[str, Any]], base: dict[str, Any], obj: str,
    usage: dict[str, int], body: dict[str, Any],
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for event in events:
        await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
    if (body.get("stream_options") or {}).get("include_usage"):
        await response.write(b"data: " + orjson.dumps({**base, "object": obj, "choices": [], "usage": usage}) + b"\n\n")
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


def _vector(text: str) -> list[float]:
    """A deterministic 8-dimensional stand-in embedding."""
    return [b / 255 for b in hashlib.sha256(text.encode()).digest()[:8]]


async def embeddings(request: web.Request) -> web.Response:
    body = await _body(request)
    inputs = body.get("input")
    texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
    data = [
        {"object": "embedding", "index": i, "embedding": _vector(str(t))}
        for i, t in enumerate(texts)
    ]
    tokens = sum(len(str(t).split()) for t in texts)
    return web.json_response(
        {"object": "list", "data": data, "model": body.get("model", DEMO_MODEL),
         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )


def create_demo_app(model: DemoModel | None = None) -> web.Application:
    app = web.Application()
    app[DEMO_KEY] = model if model is not None else DemoModel()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/completions", completions)
    app.router.add_post("/v1/embeddings", embeddings)
    return app
