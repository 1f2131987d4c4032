"""Streaming through the proxy, with an upstream that emits exactly what OpenAI emits.

n=2 with interleaved choices, parallel tool calls whose arguments arrive in pieces, the final
`usage` chunk with `choices: []`, keep-alive comments, legacy `function_call` deltas,
reasoning text, and `/v1/completions`. What a client sees is checked with the `openai` SDK's
own stream accumulation (`ChatCompletionStreamState`), against the non-streamed decision.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web
from openai.lib.streaming.chat import ChatCompletionStreamState

from policies.engine import Policy
from policies.findings import Direction
from proxy.sse import SSEDecoder, SSEEvent
from tests.support.bad_upstreams import DONE, sse
from tests.support.servers import Stack, proxy_stack

EMAIL = "li.lei@example.com"
MOBILE = "13812345678"
BASE = {"id": "chatcmpl-abc", "object": "chat.completion.chunk", "created": 1732665600, "model": "gpt-4o-mini",
        "system_fingerprint": "fp_44709d6fcb", "service_tier": "default"}
USAGE = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21,
         "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
         "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                       "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}


def chunk(index: int = 0, finish: str | None = None, usage: bool = False, **delta: Any) -> bytes:
    body: dict[str, Any] = {**BASE, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    if usage:
        body["usage"] = None  # what OpenAI sends on every chunk once include_usage is on
    return sse(body)


def text_chunk(text: str, finish: str | None = None, index: int = 0) -> bytes:
    return sse({"id": "cmpl-abc", "object": "text_completion", "created": 1732665600, "model": "gpt-3.5-turbo-instruct",
                "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": finish}]})


@asynccontextmanager
async def scripted(
    policy: Policy, events: Sequence[bytes], at_once: bool = False, **settings: Any
) -> AsyncIterator[Stack]:
    """The proxy in front of an upstream that streams `events` (both routes) as written, one
    write each (or all in one write, `at_once`)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        for event in [b"".join(events)] if at_once else events:
            await response.write(event)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    app.router.add_post("/v1/completions", handler)
    async with proxy_stack(policy, upstream_app=app, **settings) as stack:
        yield stack


def sdk(stack: Stack) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stack.base_url, api_key="sk-test", max_retries=0, timeout=10)


async def accumulate(stack: Stack, **extra: Any) -> tuple[ChatCompletionStreamState[Any], list[Any]]:
    """Stream a chat completion through the proxy into the SDK's own accumulator."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    chunks = []
    async with sdk(stack) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True, **extra
        )
        async for item in stream:
            chunks.append(item)
            state.handle_chunk(item)
    return state, chunks


async def raw_events(stack: Stack, path: str = "chat/completions") -> tuple[bytes, list[SSEEvent]]:
    async with aiohttp.ClientSession() as session, session.post(
        f"{stack.base_url}/{path}", json={"model": "m", "messages": [{"role": "user", "content": "hi"}], "prompt": "hi", "stream": True}
    ) as response:
        body = await response.read()
    decoder = SSEDecoder()
    return body, [e for e in decoder.decode(body) + decoder.flush() if isinstance(e, SSEEvent)]


def guarded(policy: Policy, text: str) -> str:
    return policy.evaluate(text, Direction.COMPLETION).text


async def test_n2_interleaved_only_the_blocked_choice_ends_with_content_filter(default_policy: Policy) -> None:
    fine = ["The weather ", "is sunny ", "and warm ", f"today; write to {EMAIL[:5]}", f"{EMAIL[5:]} for more."]
    bad = ["Try ", "网络", "赌", "博 sites ", "now."]
    events = [chunk(0, role="assistant", content=""), chunk(1, role="assistant", content="")]
    for a, b in zip(fine, bad, strict=True):
        events += [chunk(0, content=a), chunk(1, content=b)]
    events += [chunk(1, finish="stop"), chunk(0, finish="stop"), DONE]
    async with scripted(default_policy, events) as stack:
        state, _ = await accumulate(stack, n=2)
    choices = state.current_completion_snapshot.choices
    assert choices[0].message.content == guarded(default_policy, "".join(fine))
    assert choices[0].message.content == "The weather is sunny and warm today; write to <EMAIL_ADDRESS> for more."
    assert choices[0].finish_reason == "stop"
    assert choices[1].finish_reason == "content_filter"
    assert "赌" not in (choices[1].message.content or "") and "网络" not in (choices[1].message.content or "")
    with pytest.raises(openai.ContentFilterFinishReasonError):
        state.get_final_completion()


async def test_parallel_tool_call_arguments_are_redacted_across_pieces(default_policy: Policy) -> None:
    args = [f'{{"to": "{EMAIL}", "subject": "hi"}}', f'{{"phone": "{MOBILE}", "note": "call me"}}']
    first = [{"index": i, "id": f"call_{i}", "type": "function", "function": {"name": f"tool_{i}", "arguments": ""}}
             for i in range(2)]
    events = [chunk(role="assistant", content=None, tool_calls=[first[0]]), chunk(tool_calls=[first[1]])]
    cuts = [0, 9, 14, 19, 27, 200]  # through the middle of both identifiers
    for a, b in itertools.pairwise(cuts):
        for call in range(2):
            events.append(chunk(tool_calls=[{"index": call, "function": {"arguments": args[call][a:b]}}]))
    events += [chunk(finish="tool_calls"), DONE]
    async with scripted(default_policy, events) as stack:
        state, _ = await accumulate(stack)
    final = state.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.id, c.type, c.function.name) for c in calls] == [("call_0", "function", "tool_0"), ("call_1", "function", "tool_1")]
    assert [c.function.arguments for c in calls] == [guarded(default_policy, a) for a in args]
    assert calls[0].function.arguments == '{"to": "<EMAIL_ADDRESS>", "subject": "hi"}'
    assert final.choices[0].finish_reason == "tool_calls"


async def test_legacy_function_call_arguments_are_guarded_in_streams(default_policy: Policy) -> None:
    args = f'{{"to": "{EMAIL}", "body": "see you"}}'
    events = [chunk(role="assistant", content=None, function_call={"name": "send_mail", "arguments": ""})]
    events += [chunk(function_call={"arguments": args[i : i + 5]}) for i in range(0, len(args), 5)]
    events += [chunk(finish="function_call"), DONE]
    async with scripted(default_policy, events) as stack:
        body, _ = await raw_events(stack)
        state, _ = await accumulate(stack)
    assert EMAIL[5:12] not in body.decode()
    message = state.current_completion_snapshot.choices[0].message
    assert message.function_call is not None and message.function_call.name == "send_mail"
    assert message.function_call.arguments == guarded(default_policy, args) == '{"to": "<EMAIL_ADDRESS>", "body": "see you"}'


async def test_final_usage_chunk_with_no_choices_is_forwarded(default_policy: Policy) -> None:
    events = [chunk(role="assistant", content="", usage=True), chunk(content=f"mail {EMAIL}", usage=True),
              chunk(finish="stop", usage=True), sse({**BASE, "choices": [], "usage": USAGE}), DONE]
    async with scripted(default_policy, events) as stack:
        state, chunks = await accumulate(stack, stream_options={"include_usage": True})
        _, relayed = await raw_events(stack)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump(exclude_unset=True) == USAGE
    assert all(c.usage is None for c in chunks[:-1])
    assert state.current_completion_snapshot.choices[0].message.content == "mail <EMAIL_ADDRESS>"
    assert [e.data for e in relayed][-2:] == [orjson.dumps({**BASE, "choices": [], "usage": USAGE}).decode(), "[DONE]"]
    assert all(orjson.loads(e.data)["service_tier"] == "default" for e in relayed[:-1])


async def test_keep_alive_comments_are_forwarded_without_their_text(default_policy: Policy) -> None:
    """Each upstream comment keeps the connection alive downstream too, as a fixed comment: its
    text is not model output the guard reads, so it is not passed on."""
    events = [b": ping\n\n", chunk(role="assistant", content=""), b": call 13812345678\n\n",
              chunk(content="Hello"), b":\n\n", chunk(content=" there"), chunk(finish="stop"), DONE]
    async with scripted(default_policy, events) as stack:
        body, _ = await raw_events(stack)
        state, _ = await accumulate(stack)
    assert body.startswith(b": keep-alive\n\n")
    assert body.count(b": keep-alive\n\n") == 3 and b"13812345678" not in body
    assert state.current_completion_snapshot.choices[0].message.content == "Hello there"


async def test_reasoning_and_content_are_guarded_separately(default_policy: Policy) -> None:
    reasoning = f"The user wants {MOBILE} checked, then mail."
    content = f"Done: wrote to {EMAIL}."
    events = [chunk(role="assistant", content="", reasoning_content="")]
    events += [chunk(reasoning_content=reasoning[i : i + 3]) for i in range(0, len(reasoning), 3)]
    events += [chunk(content=content[i : i + 4]) for i in range(0, len(content), 4)]
    events += [chunk(finish="stop"), DONE]
    async with scripted(default_policy, events) as stack:
        body, relayed = await raw_events(stack)
    assert MOBILE not in body.decode() and EMAIL not in body.decode()
    got: dict[str, str] = {"reasoning_content": "", "content": ""}
    for event in relayed[:-1]:
        for choice in orjson.loads(event.data)["choices"]:
            for key in got:
                got[key] += choice["delta"].get(key) or ""
    assert got == {"reasoning_content": guarded(default_policy, reasoning), "content": guarded(default_policy, content)}


@pytest.mark.parametrize("route", ["chat", "completions"])
async def test_text_and_finish_reason_in_the_same_chunk_keep_their_order(default_policy: Policy, route: str) -> None:
    """Some servers (llama.cpp, vLLM with stop strings) put the last text and the finish together.

    The scanner releases the head of such a chunk at once and holds the last 78 characters; the
    finish flushes those. The flushed tail must come after the head, not before it.
    """
    text = f"Our support team is reachable around the clock; write to {EMAIL} or call {MOBILE} and we will answer within the hour. Thanks!"
    if route == "chat":
        events = [chunk(role="assistant", content=""), chunk(content=text, finish="stop"), DONE]
    else:
        events = [text_chunk(text, finish="stop"), DONE]
    async with scripted(default_policy, events) as stack:
        if route == "chat":
            state, _ = await accumulate(stack)
            got = state.current_completion_snapshot.choices[0].message.content
            finish = state.current_completion_snapshot.choices[0].finish_reason
        else:
            async with sdk(stack) as client:
                stream = await client.completions.create(model="m", prompt="hi", stream=True)
                pieces = [c async for c in stream]
            got = "".join(c.choices[0].text for c in pieces if c.choices)
            finish = [c.choices[0].finish_reason for c in pieces if c.choices and c.choices[0].finish_reason][-1]
    assert got == guarded(default_policy, text)
    assert finish == "stop"


async def test_completions_stream_is_redacted_and_blocked(default_policy: Policy) -> None:
    text = f"Sure: contact {EMAIL} for the invoice."
    events = [text_chunk(text[i : i + 3]) for i in range(0, len(text), 3)] + [text_chunk("", finish="stop"), DONE]
    async with scripted(default_policy, events) as stack, sdk(stack) as client:
        stream = await client.completions.create(model="m", prompt="hi", stream=True)
        pieces = [c async for c in stream]
    assert "".join(c.choices[0].text for c in pieces) == "Sure: contact <EMAIL_ADDRESS> for the invoice."
    assert pieces[-1].choices[0].finish_reason == "stop"

    blocked = "Here is a fake invoice template: ..."
    events = [text_chunk(blocked[i : i + 2]) for i in range(0, len(blocked), 2)] + [text_chunk("", finish="stop"), DONE]
    async with scripted(default_policy, events) as stack, sdk(stack) as client:
        stream = await client.completions.create(model="m", prompt="hi", stream=True)
        pieces = [c async for c in stream]
    assert pieces[-1].choices[0].finish_reason == "content_filter"
    assert "invoice" not in "".join(c.choices[0].text for c in pieces)


# --- large reads ------------------------------------------------------------------------

LONG_ANSWER = [f"Line {i}: call {MOBILE} or mail {EMAIL} for part {i}. " for i in range(200)]


def long_stream() -> list[bytes]:
    return [chunk(0, role="assistant", content=""), *(chunk(0, content=piece) for piece in LONG_ANSWER),
            chunk(0, finish="stop"), DONE]


async def test_a_large_read_is_guarded_whole(default_policy: Policy) -> None:
    """All 200 chunks arrive in one read (20 KB): guarded chunk by chunk, yielding to the event
    loop now and then, and the client gets what the non-streamed guard decides."""
    async with scripted(default_policy, long_stream(), at_once=True) as stack:
        state, _ = await accumulate(stack)
    message = state.get_final_completion().choices[0].message
    assert message.content == guarded(default_policy, "".join(LONG_ANSWER))
    assert MOBILE not in (message.content or "") and EMAIL not in (message.content or "")
