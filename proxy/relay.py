"""Relaying a streamed completion: SSE in, guarded SSE out, one scanner per text stream.

The decision to stream is made when the upstream's headers arrive (STYLE habit 5): an event
stream is relayed event by event, never buffered whole. Each choice's content, reasoning and
each tool call's arguments get their own `StreamScanner`, which holds back only what an active
pattern could still be matching. A block ends that choice with `finish_reason:
"content_filter"`; when every choice has ended, `[DONE]` is sent and the upstream is closed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from policies.engine import Policy
from policies.findings import SEVERITY, Action, Direction
from policies.streaming import Release, StreamScanner
from proxy.audit import finding_record
from proxy.errors import GuardUnavailable, UpstreamUnavailable, error_body
from proxy.flow import DIGIT_WEIGHT, Flow, guard_weight
from proxy.guarding import observe
from proxy.openai import Route, stream_slots
from proxy.sse import (
    DONE,
    SSEComment,
    SSEDecodeError,
    SSEDecoder,
    SSEEvent,
    encode_comment,
    encode_data,
)
from proxy.state import ProxyState

log = logging.getLogger(__name__)

_KEEP_ALIVE = encode_comment("keep-alive")
#: The longest text one stream chunk may carry: longer, and it is not guarded on the event loop
#: (a model sends tokens, not megabytes); the stream ends as a protocol error.
MAX_DELTA_CHARS = 64 * 1024
#: Guarding the chunks of one upstream read yields to the event loop this often: a read can
#: bring hundreds of chunks at once, each scanned inline (tens of µs; more for a held-back run
#: of digits), and the one write they make waits for the last.
YIELD_AFTER_SECONDS = 0.002
#: Held-back text longer than this, over all of a stream's scanners, is weighed as text (a few
#: µs an event), not as a row of digits: `tel 1 / 2 / 3 / …` sent a group an event, rescanned
#: whole each time, cost up to 23 ms an event guarded inline.
WEIGHED_HELD_CHARS = 16


def _upstream_error_event(error: Any, policy: Policy) -> bytes:
    """An upstream's in-stream error, rebuilt: its type and code, and its message guarded like
    model text (it may quote the conversation)."""
    error = error if isinstance(error, dict) else {}
    kind = error.get("type") if isinstance(error.get("type"), str) else "upstream_error"
    code = error.get("code") if isinstance(error.get("code"), (str, int)) else None
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    decision = policy.evaluate(message, Direction.COMPLETION)
    message = decision.text if message and not decision.blocked else "The upstream reported an error mid-stream."
    return encode_data(orjson.dumps(error_body(message, kind[:64], code)))

_SENT_DONE = b"data: [DONE]\n\n"


class StreamGuard:
    """The per-stream state: scanners by (choice, field), ended choices, a chunk template."""

    def __init__(
        self, route: Route, policy: Policy, state: ProxyState, choices: int, audit_salt: bytes | None = None
    ) -> None:
        self.route = route
        self.audit_salt = audit_salt
        self.audit: list[dict[str, Any]] = []
        self.worst = Action.ALLOW
        self.policy = policy
        self.state = state
        self.expected_choices = max(1, choices)
        self.scanners: dict[tuple[int, str], StreamScanner] = {}
        self.ended: set[int] = set()
        self.template: dict[str, Any] = {}
        self.blocked: set[int] = set()
        self.saw_done = False

    def weight(self, event: SSEEvent | SSEComment) -> int:
        """What guarding `event` may cost (see `flow.guard_weight`): the event, and the text the
        scanners hold back, which it rescans or flushes (`[DONE]` flushes every choice). A few
        held characters are weighed as if digits; more (a row of numbers the phone matcher
        may read again with every event) are weighed with the context kept before them."""
        if isinstance(event, SSEComment):
            return 0
        limit = self.state.settings.guard_inline_chars
        held = sum(scanner.pending_chars for scanner in self.scanners.values())
        if held > WEIGHED_HELD_CHARS:
            held = guard_weight([scanner.rescanned for scanner in self.scanners.values()], limit)
        else:
            held *= 1 + DIGIT_WEIGHT
        # Every event, short ones too: 254 characters of `机(+1547 / 23` cost 26 ms (review).
        return held + guard_weight([event.data], limit)

    def scanner(self, key: tuple[int, str]) -> StreamScanner:
        scanner = self.scanners.get(key)
        if scanner is None:
            scanner = self.scanners[key] = StreamScanner(self.policy, Direction.COMPLETION)
        return scanner

    def _observe(self, release: Release, key: tuple[int, str]) -> None:
        observe(self.state.metrics, Direction.COMPLETION, release.hits, release.failed, release.timings)
        for hit, value in zip(release.hits, release.matched, strict=True):
            self.worst = max(self.worst, hit.action, key=SEVERITY.__getitem__)
            if self.audit_salt is not None:
                self.audit.append(finding_record(hit, value, self.audit_salt, f"choices[{key[0]}].{key[1]}"))
        if release.blocked:
            self.worst = Action.BLOCK
        if release.overflow:
            self.state.metrics.holdback_overflows.labels("completion").inc()

    def _chunk(self, choice: dict[str, Any]) -> bytes:
        return encode_data(orjson.dumps({**self.template, "choices": [choice]}))

    def _text_choice(self, index: int, field: str, text: str) -> dict[str, Any]:
        if self.route is Route.COMPLETIONS:
            return {"index": index, "text": text, "logprobs": None, "finish_reason": None}
        choice: dict[str, Any] = {"index": index, "delta": {}, "finish_reason": None}
        _append_text(self.route, choice, field, text)
        return choice

    def _end_choice(self, index: int) -> bytes:
        self.ended.add(index)
        self.blocked.add(index)
        if self.route is Route.COMPLETIONS:
            choice: dict[str, Any] = {"index": index, "text": "", "logprobs": None, "finish_reason": "content_filter"}
        else:
            choice = {"index": index, "delta": {}, "logprobs": None, "finish_reason": "content_filter"}
        return self._chunk(choice)

    def _flush_texts(self, index: int) -> list[tuple[str, str]] | None:
        """Settle everything held for one choice: (field, text) pairs, or None if that blocked it."""
        out: list[tuple[str, str]] = []
        for (choice, field), scanner in self.scanners.items():
            if choice != index:
                continue
            release = scanner.flush()
            self._observe(release, (choice, field))
            if release.blocked:
                return None
            if release.text:
                out.append((field, release.text))
        return out

    def flush_choice(self, index: int) -> list[bytes]:
        """Release everything held for one choice (the stream ended)."""
        if index in self.ended:
            return []
        texts = self._flush_texts(index)
        if texts is None:
            return [self._end_choice(index)]
        return [self._chunk(self._text_choice(index, field, text)) for field, text in texts]

    def flush_all(self) -> list[bytes]:
        out: list[bytes] = []
        for index in sorted({choice for choice, _ in self.scanners}):
            out.extend(self.flush_choice(index))
        return out

    @property
    def done(self) -> bool:
        """`[DONE]` was seen, or every choice was blocked: nothing more to relay."""
        return self.saw_done or (bool(self.blocked) and len(self.ended) >= self.expected_choices)

    def on_event(self, event: SSEEvent | SSEComment) -> list[bytes]:
        if isinstance(event, SSEComment):  # a keep-alive: its text is not passed on unread
            return [_KEEP_ALIVE]
        if event.data == DONE:
            self.saw_done = True
            return [*self.flush_all(), _SENT_DONE]
        return self.on_chunk(event.data)

    def on_chunk(self, data: str) -> list[bytes]:
        """Guard one upstream chunk; returns the events to send, in order."""
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict):  # not a chunk the guard can read: never forwarded
            raise UpstreamUnavailable("The upstream sent a stream event that is not a JSON object")
        if "error" in chunk and "choices" not in chunk:  # an in-stream error: passed on as type and code only
            return [_upstream_error_event(chunk["error"], self.policy)]
        self.template = {k: v for k, v in chunk.items() if k not in ("choices", "usage")}
        before: list[bytes] = []
        newly_blocked: set[int] = set()
        for (index, field), slot in stream_slots(self.route, chunk):
            if index in self.ended or index in newly_blocked:
                slot.replace("")
                continue
            if len(slot.text) > MAX_DELTA_CHARS:
                raise UpstreamUnavailable(f"The upstream sent a stream chunk of over {MAX_DELTA_CHARS} characters")
            release = self.scanner((index, field)).feed(slot.text)
            self._observe(release, (index, field))
            if release.blocked:
                newly_blocked.add(index)
                slot.replace("")
            else:
                slot.replace(release.text)
        choices = []
        for position, choice in enumerate(chunk.get("choices") or ()):
            if choice.get("logprobs") is not None:  # refused in requests; never sent ahead of held text
                choice["logprobs"] = None
            index = choice.get("index", position)
            if index in self.ended or index in newly_blocked:
                continue
            if choice.get("finish_reason") is not None:
                # The held-back tail goes into this very chunk, after the text it already carries.
                texts = self._flush_texts(index)
                if texts is None:
                    before.append(self._end_choice(index))
                    continue
                for field, text in texts:
                    _append_text(self.route, choice, field, text)
                self.ended.add(index)
            if _has_payload(self.route, choice):
                choices.append(choice)
        out = before + [self._end_choice(index) for index in sorted(newly_blocked)]
        if choices or chunk.get("usage") is not None or not chunk.get("choices"):
            out.append(encode_data(orjson.dumps({**chunk, "choices": choices})))
        return out


def _append_text(route: Route, choice: dict[str, Any], field: str, text: str) -> None:
    """Append released text to a choice's `field` (a key from `stream_slots`), creating it if need be."""
    if route is Route.COMPLETIONS:
        choice["text"] = (choice.get("text") or "") + text
        return
    delta = choice.get("delta")
    if not isinstance(delta, dict):
        delta = choice["delta"] = {}
    if field == "function_call":
        function_call = delta.get("function_call") or {}
        function_call["arguments"] = (function_call.get("arguments") or "") + text
        delta["function_call"] = function_call
    elif field.startswith("tool_calls["):
        call = int(field[len("tool_calls[") : -1])
        calls = delta.get("tool_calls") or []
        delta["tool_calls"] = calls
        for position, entry in enumerate(calls):
            if entry.get("index", position) == call and isinstance(entry.get("function"), dict):
                entry["function"]["arguments"] = (entry["function"].get("arguments") or "") + text
                return
        calls.append({"index": call, "function": {"arguments": text}})
    else:
        delta[field] = (delta.get(field) or "") + text


def _has_payload(route: Route, choice: dict[str, Any]) -> bool:
    """Whether a choice still says anything once held-back text is taken out."""
    if choice.get("finish_reason") is not None or choice.get("logprobs"):
        return True
    if route is Route.COMPLETIONS:
        return bool(choice.get("text"))
    delta = choice.get("delta") or {}
    return any(
        (key not in ("content", "reasoning_content", "refusal") or bool(value)) and value is not None
        for key, value in delta.items()
    )


async def relay_stream(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    flow: Flow,
    headers: Any,
    started: float,
    choices: int = 1,
) -> web.StreamResponse:
    """Relay one upstream event stream to the client, guarded, until `[DONE]` or a full block."""
    response = web.StreamResponse(status=upstream.status, headers=headers)
    response.headers["Content-Type"] = "text/event-stream; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    route, state = flow.route, flow.state
    guard = StreamGuard(route, flow.policy, state, choices, flow.audit_salt)
    inline = state.settings.guard_inline_chars  # `Flow.run` guards what weighs this or less inline
    decoder = SSEDecoder()
    metrics = state.metrics
    metrics.active_streams.inc()
    first_sent = False
    try:
        await response.prepare(request)
        async for raw in upstream.content.iter_any():
            out: list[bytes] = []  # everything one upstream read releases goes out in one write
            paused = time.perf_counter()
            for event in decoder.decode(raw):
                weight = guard.weight(event)
                if weight <= inline:  # nearly every event: no coroutine for it
                    out.extend(guard.on_event(event))
                else:
                    out.extend(await flow.run(weight, Direction.COMPLETION, guard.on_event, event))
                if guard.done:
                    break
                if time.perf_counter() - paused > YIELD_AFTER_SECONDS:
                    await asyncio.sleep(0)  # a read of many chunks lets other requests run in between
                    paused = time.perf_counter()
            if out:
                if not first_sent:
                    first_sent = True
                    metrics.time_to_first_token.labels(str(route)).observe(time.perf_counter() - started)
                await response.write(b"".join(out))
            if guard.done:
                break
        else:
            for event in decoder.flush():  # an event the upstream cut off at its end: weighed too
                for piece in await flow.run(guard.weight(event), Direction.COMPLETION, guard.on_event, event):
                    await response.write(piece)
        if not guard.done:
            raise aiohttp.ClientPayloadError("the upstream stream ended without [DONE]")
        if not guard.saw_done:  # every choice was blocked: end the stream ourselves
            await response.write(_SENT_DONE)
        await response.write_eof()
    except ConnectionResetError:
        # Returning (not raising) spares aiohttp's "Error handling request" traceback and keeps
        # the request in the metrics; `finally` closes the upstream, which stops the generation.
        log.info("client went away mid-stream; cancelling the upstream request")
    except asyncio.CancelledError:
        log.info("stream cancelled; cancelling the upstream request")
        raise
    except (
        TimeoutError, aiohttp.ClientError, SSEDecodeError, orjson.JSONDecodeError, orjson.JSONEncodeError,
        UpstreamUnavailable,
    ) as exc:
        # JSONEncodeError: a chunk nested deeper than orjson writes (254) cannot be re-encoded;
        # UpstreamUnavailable: a chunk of the wrong shape (`stream_slots`) or not an object.
        kind = "timeout" if isinstance(exc, asyncio.TimeoutError) else "protocol"
        metrics.upstream_errors.labels(kind).inc()
        metrics.fail_closed.labels("completion", "stream_broken").inc()
        await _send_error(response, f"The upstream stream failed: {type(exc).__name__}")
    except GuardUnavailable as exc:  # a chunk the guard could not finish in time (`Flow.run` counted it)
        guard.worst = Action.BLOCK  # its text was not forwarded: the audit says so, whatever the thread finds later
        await _send_error(response, str(exc))
    finally:
        metrics.active_streams.dec()
        upstream.close()  # never back to the pool half-read; closing stops the generation
        flow.audit(Direction.COMPLETION, guard.worst, guard.audit)
    return response


async def _send_error(response: web.StreamResponse, message: str) -> None:
    """End a broken stream with an error event the `openai` SDK raises as `APIError`."""
    try:
        await response.write(encode_data(orjson.dumps(error_body(message, "upstream_error", "stream_error"))))
        await response.write_eof()
    except (ConnectionResetError, RuntimeError):
        pass
