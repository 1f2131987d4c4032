"""A mock OpenAI-compatible upstream for the benchmarks: answers at once, on 127.0.0.1 only.

`POST /v1/chat/completions` returns a fixed chat completion (about 1 KB of answer text), or,
with `"stream": true` in the body, a 100-chunk SSE answer written without any pause.
`GET /v1/models` lists one model. Two implementations, same bytes on the wire:

* `--impl raw`: a bare asyncio protocol (HTTP/1.1 keep-alive, Content-Length or chunked).
  It does the least possible work per request, so it is the floor the relays are compared to.
* `--impl aiohttp`: an aiohttp application, each SSE event a separate `write`.

    python bench/mock_upstream.py --port 9000 --impl raw
"""

from __future__ import annotations

import os
import sys

# bench/ goes last on the import path, so no script here can shadow a standard module:
# search bench/ last (it still finds `_common`).
if os.path.abspath(sys.path[0] or os.curdir) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.append(sys.path.pop(0))

import argparse
import asyncio

import orjson
from _common import answer_chunks, make_sample

MODEL = "bench-model"


def completion_body(answer: str) -> bytes:
    return orjson.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 300, "completion_tokens": 300, "total_tokens": 600},
    })


def sse_events(chunks: list[str]) -> list[bytes]:
    """role chunk, one chunk per delta, a finish chunk, then [DONE]."""
    def event(delta: dict[str, str], finish: str | None = None) -> bytes:
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                 "model": MODEL, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    return [event({"role": "assistant", "content": ""}),
            *(event({"content": c}) for c in chunks), event({}, "stop"), b"data: [DONE]\n\n"]


def payloads(chunks: int = 100) -> tuple[bytes, list[bytes]]:
    import random

    answer = make_sample(random.Random("mock-answer"), 1024, with_pii=False).text
    return completion_body(answer), sse_events(answer_chunks(chunks=chunks))


MODELS = orjson.dumps({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "bench"}]})


# ----------------------------------------------------------------------------- raw asyncio


class RawUpstream(asyncio.Protocol):
    """HTTP/1.1 just enough for the benchmarks: keep-alive, Content-Length request bodies."""

    def __init__(self, json_body: bytes, events: list[bytes]) -> None:
        self.buffer = b""
        self.json_response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                              + str(len(json_body)).encode() + b"\r\n\r\n" + json_body)
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events) + b"0\r\n\r\n"
        self.stream_response = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        self.models_response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                + str(len(MODELS)).encode() + b"\r\n\r\n" + MODELS)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            if head.startswith(b"get"):
                self.transport.write(self.models_response)  # type: ignore[attr-defined]
            elif b'"stream":true' in body.replace(b" ", b""):
                self.transport.write(self.stream_response)  # type: ignore[attr-defined]
            else:
                self.transport.write(self.json_response)  # type: ignore[attr-defined]


async def serve_raw(port: int, json_body: bytes, events: list[bytes]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: RawUpstream(json_body, events), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# ----------------------------------------------------------------------------- aiohttp


def serve_aiohttp(port: int, json_body: bytes, events: list[bytes]) -> None:
    from aiohttp import web

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if b'"stream":true' not in body.replace(b" ", b""):
            return web.Response(body=json_body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        for event in events:
            await response.write(event)
        await response.write_eof()
        return response

    async def models(request: web.Request) -> web.Response:
        return web.Response(body=MODELS, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--impl", choices=("raw", "aiohttp"), default="raw")
    parser.add_argument("--chunks", type=int, default=100)
    args = parser.parse_args()
    json_body, events = payloads(args.chunks)
    if args.impl == "raw":
        asyncio.run(serve_raw(args.port, json_body, events))
    else:
        serve_aiohttp(args.port, json_body, events)


if __name__ == "__main__":
    main()
