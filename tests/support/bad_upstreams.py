"""Misbehaving upstreams for fault tests, and probes for what a fault may leave behind.

* `raw_server` runs an asyncio TCP server whose handler writes whatever bytes it likes: a
  response cut short, a stalled body, invalid UTF-8, a socket closed mid-chunk. The `http_*`
  helpers write the HTTP/1.1 framing by hand so a test controls every byte.
* `unaccepting_listener` is a port whose accept queue is full, so a connect never completes
  (a connect timeout without leaving 127.0.0.1).
* `upstream_connections` counts the proxy's live TCP connections to an upstream port from
  `/proc/net/tcp{,6}` (psutil is not a dependency); `settled_tasks` waits for asyncio tasks to
  wind down; `scrape` reads `/metrics` into comparable numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawServer:
    port: int
    connections: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@asynccontextmanager
async def raw_server(handle: RawHandler) -> AsyncIterator[RawServer]:
    """An HTTP server written by hand: `handle(reader, writer)` runs once per connection."""
    info = RawServer(0)
    tasks: set[asyncio.Task[object]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        info.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            tasks.discard(task)
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    info.port = server.sockets[0].getsockname()[1]
    try:
        yield info
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 request with a Content-Length body: (head, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


async def http_head(
    writer: asyncio.StreamWriter, status: int = 200, content_type: str = "text/event-stream",
    length: int | None = None,
) -> None:
    """A status line and headers: chunked unless `length` is given."""
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    writer.write(f"HTTP/1.1 {status} OK\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n".encode())
    await writer.drain()


async def http_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    if data:
        writer.write(b"%x\r\n%s\r\n" % (len(data), data))
        await writer.drain()


async def http_end(writer: asyncio.StreamWriter) -> None:
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def sse(chunk: object) -> bytes:
    """One `data:` event; `chunk` is JSON-encoded unless it is already bytes."""
    return b"data: " + (chunk if isinstance(chunk, bytes) else orjson.dumps(chunk)) + b"\n\n"


DONE = b"data: [DONE]\n\n"


def chat_chunk(content: str | None = None, finish: str | None = None, index: int = 0, **delta: object) -> dict[str, object]:
    """A `chat.completion.chunk` exactly as OpenAI sends it."""
    if content is not None:
        delta["content"] = content
    return {
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "system_fingerprint": "fp", "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def chat_completion(content: object) -> dict[str, object]:
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


@contextmanager
def unaccepting_listener() -> Iterator[int]:
    """A listening port whose accept queue is full: new connects hang until they time out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):  # listen(0) queues one connection; Linux drops SYNs beyond it
            filler = socket.socket()
            filler.settimeout(0.2)
            fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            raise RuntimeError("could not fill the accept queue of a listen(0) socket")
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


_LIVE_STATES = {"01": "ESTABLISHED", "08": "CLOSE_WAIT"}


def upstream_connections(port: int) -> int:
    """Client-side sockets connected to `port` on this host that are still open.

    ESTABLISHED is an open (possibly pooled) connection; CLOSE_WAIT is one the upstream closed
    and the proxy never did, the classic leak.
    """
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                remote, state = fields[2], fields[3]
                if state in _LIVE_STATES and int(remote.rsplit(":", 1)[1], 16) == port:
                    count += 1
    return count


async def settled_tasks(baseline: int, timeout: float = 3.0) -> int:
    """The number of asyncio tasks once it is back to `baseline` (or `timeout` ran out)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        count = len(asyncio.all_tasks())
        if count <= baseline or loop.time() > deadline:
            return count
        await asyncio.sleep(0.02)


async def settled_connections(port: int, at_most: int, timeout: float = 3.0) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        count = upstream_connections(port)
        if count <= at_most or loop.time() > deadline:
            return count
        await asyncio.sleep(0.02)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(proxy_url: str) -> Samples:
    """Every sample of the proxy's `/metrics`, keyed by (name, labels)."""
    async with aiohttp.ClientSession() as session, session.get(f"{proxy_url}/metrics") as response:
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much the samples named `name` whose labels include `labels` grew."""
    def total(samples: Samples) -> float:
        return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)

    return total(after) - total(before)
