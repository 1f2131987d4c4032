"""Tests for `proxy.sse`: every stream is decoded whole, split at every offset, and byte by byte.

The streams are shaped like real OpenAI responses (chat and legacy completions, n=2, tool
calls, include_usage, keep-alives) because those are what the proxy must never garble.
A reference parser written straight from the WHATWG rules checks arbitrary input.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.sse import (
    DONE,
    SSEComment,
    SSEDecodeError,
    SSEDecoder,
    SSEEvent,
    encode_comment,
    encode_data,
    encode_event,
)

Item = SSEEvent | SSEComment


# --- helpers ------------------------------------------------------------------------------


def decode_all(pieces: Iterable[bytes], **limits: int) -> list[Item]:
    decoder = SSEDecoder(**limits)
    items: list[Item] = []
    for piece in pieces:
        items += decoder.decode(piece)
    items += decoder.flush()
    return items


def two_way_splits(raw: bytes) -> Iterable[tuple[bytes, bytes]]:
    for cut in range(len(raw) + 1):
        yield raw[:cut], raw[cut:]


def byte_by_byte(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


def split_at(raw: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(raw)]
    return [raw[a:b] for a, b in itertools.pairwise(bounds)]


def dumps(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload).decode("utf-8")


def openai_stream(payloads: Sequence[dict[str, Any]], *, done: bool = True) -> bytes:
    """The wire bytes, written by hand (not by the encoder under test)."""
    body = "".join(f"data: {dumps(p)}\n\n" for p in payloads)
    if done:
        body += "data: [DONE]\n\n"
    return body.encode("utf-8")


def openai_events(payloads: Sequence[dict[str, Any]], *, done: bool = True) -> list[Item]:
    events: list[Item] = [SSEEvent(dumps(p)) for p in payloads]
    if done:
        events.append(SSEEvent(DONE))
    return events


# --- realistic OpenAI payloads --------------------------------------------------------------


def chat_chunk(
    choices: list[dict[str, Any]], *, include_usage: bool = False, **extra: Any
) -> dict[str, Any]:
    """With include_usage every chunk carries ``"usage": null`` until the last one."""
    chunk: dict[str, Any] = {
        "id": "chatcmpl-AYq3c9ZxkQ2",
        "object": "chat.completion.chunk",
        "created": 1732700000,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": choices,
    }
    if include_usage:
        chunk["usage"] = None
    chunk.update(extra)
    return chunk


def delta(index: int, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "logprobs": None, "finish_reason": finish}


# Full-width punctuation, an emoji ZWJ sequence and a precomposed accent, on purpose.
CONTENT_PIECES = ["你好", "，世界！", "🌍🚀", " café ", "👨‍👩‍👧‍👦", "ok"]

CHAT = [
    chat_chunk([delta(0, role="assistant", content="", refusal=None)]),
    *(chat_chunk([delta(0, content=piece)]) for piece in CONTENT_PIECES),
    chat_chunk([delta(0, "stop")]),
]

CHAT_N2 = [
    chat_chunk([delta(0, role="assistant", content="", refusal=None)]),
    chat_chunk([delta(1, role="assistant", content="", refusal=None)]),
    chat_chunk([delta(0, content="北京")]),
    chat_chunk([delta(1, content="上海")]),
    chat_chunk([delta(1, content="🙂")]),
    chat_chunk([delta(0, content="欢迎")]),
    chat_chunk([delta(0, "stop")]),
    chat_chunk([delta(1, "stop")]),
]

TOOL_ARGUMENT_PIECES = ['{"', "city", '":"', "北京", '","unit', '":"celsius"', "}"]

TOOL_CALLS = [
    chat_chunk(
        [
            delta(
                0,
                role="assistant",
                content=None,
                tool_calls=[
                    {
                        "index": 0,
                        "id": "call_5sHqWb1pVd3",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
                refusal=None,
            )
        ]
    ),
    *(
        chat_chunk([delta(0, tool_calls=[{"index": 0, "function": {"arguments": piece}}])])
        for piece in TOOL_ARGUMENT_PIECES
    ),
    chat_chunk([delta(0, "tool_calls")]),
]

USAGE = [
    chat_chunk([delta(0, role="assistant", content="", refusal=None)], include_usage=True),
    chat_chunk([delta(0, content="Hi 👋")], include_usage=True),
    chat_chunk([delta(0, "stop")], include_usage=True),
    chat_chunk(
        [],
        usage={
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    ),
]


def completion_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "cmpl-8b1Zq4Rk",
        "object": "text_completion",
        "created": 1732700000,
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
        "model": "gpt-3.5-turbo-instruct",
        "system_fingerprint": None,
    }


COMPLETIONS = [
    completion_chunk(" 从前"),
    completion_chunk("有座山🏔️"),
    completion_chunk("\n\nOnce"),  # a JSON-escaped newline: still one data line
    completion_chunk("", "length"),
]

KEEPALIVE_RAW = (
    b": ping\n\n"
    + f"data: {dumps(CHAT[0])}\n\n".encode()
    + b": OPENROUTER PROCESSING\n\n"
    + f"data: {dumps(CHAT[1])}\n\n".encode()
    + b":\n\n"
    + b"data: [DONE]\n\n"
)
KEEPALIVE_EVENTS: list[Item] = [
    SSEComment("ping"),
    SSEEvent(dumps(CHAT[0])),
    SSEComment("OPENROUTER PROCESSING"),
    SSEEvent(dumps(CHAT[1])),
    SSEComment(""),
    SSEEvent(DONE),
]

ERROR_PAYLOAD = {"error": {"message": "The server had an error", "type": "server_error"}}

# (name, raw bytes, expected items)
OPENAI_STREAMS: list[tuple[str, bytes, list[Item]]] = [
    ("chat", openai_stream(CHAT), openai_events(CHAT)),
    ("chat_crlf", openai_stream(CHAT).replace(b"\n", b"\r\n"), openai_events(CHAT)),
    ("chat_cr", openai_stream(CHAT).replace(b"\n", b"\r"), openai_events(CHAT)),
    ("chat_n2", openai_stream(CHAT_N2), openai_events(CHAT_N2)),
    ("tool_calls", openai_stream(TOOL_CALLS), openai_events(TOOL_CALLS)),
    ("include_usage", openai_stream(USAGE), openai_events(USAGE)),
    ("completions", openai_stream(COMPLETIONS), openai_events(COMPLETIONS)),
    ("keepalive", KEEPALIVE_RAW, KEEPALIVE_EVENTS),
    (
        "error_mid_stream",
        openai_stream([CHAT[0], ERROR_PAYLOAD], done=False),
        openai_events([CHAT[0], ERROR_PAYLOAD], done=False),
    ),
]

# (name, raw bytes, expected items): the WHATWG rules, one at a time.
SPEC_CASES: list[tuple[str, bytes, list[Item]]] = [
    ("empty", b"", []),
    ("blank_lines_only", b"\n\n\r\n\r\r", []),
    ("data_space", b"data: x\n\n", [SSEEvent("x")]),
    ("data_no_space", b"data:x\n\n", [SSEEvent("x")]),
    ("data_two_spaces", b"data:  x\n\n", [SSEEvent(" x")]),
    ("data_trailing_space_kept", b"data: x \n\n", [SSEEvent("x ")]),
    ("data_no_colon", b"data\n\n", [SSEEvent("")]),
    ("data_empty", b"data:\n\n", [SSEEvent("")]),
    ("data_two_empty_lines", b"data\ndata\n\n", [SSEEvent("\n")]),
    ("colon_in_value", b"data: a: b\n\n", [SSEEvent("a: b")]),
    (
        "multi_line",
        b'data: {\ndata: "a": 1\ndata: }\n\n',
        [SSEEvent('{\n"a": 1\n}')],
    ),
    ("cr_only", b"data: a\rdata: b\r\r", [SSEEvent("a\nb")]),
    ("mixed_endings", b"data: a\r\ndata: b\rdata: c\n\r\n", [SSEEvent("a\nb\nc")]),
    ("cr_then_crlf", b"data: a\r\r\ndata: b\n\n", [SSEEvent("a"), SSEEvent("b")]),
    ("lf_then_cr", b"data: a\n\rdata: b\n\n", [SSEEvent("a"), SSEEvent("b")]),
    (
        "only_cr_lf_lf_break_lines",
        "data: a\u2028b\x85c\x0bd\x0ce\x1cf\n\n".encode(),
        [SSEEvent("a\u2028b\x85c\x0bd\x0ce\x1cf")],
    ),
    ("nul_in_data", b"data: a\x00b\n\n", [SSEEvent("a\x00b")]),
    ("event_named", b"event: error\ndata: {}\n\n", [SSEEvent("{}", event="error")]),
    ("event_empty_is_default", b"event:\ndata: x\n\n", [SSEEvent("x")]),
    ("event_no_colon_is_default", b"event\ndata: x\n\n", [SSEEvent("x")]),
    ("event_without_data_dropped", b"event: ping\n\ndata: x\n\n", [SSEEvent("x")]),
    ("event_last_wins", b"event: a\nevent: b\ndata: x\n\n", [SSEEvent("x", event="b")]),
    (
        "id_persists",
        b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n",
        [SSEEvent("a", id="1"), SSEEvent("b", id="1"), SSEEvent("c", id="")],
    ),
    (
        "id_with_nul_ignored",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [SSEEvent("a", id="1"), SSEEvent("b", id="1")],
    ),
    ("id_without_data_still_set", b"id: 7\n\ndata: a\n\n", [SSEEvent("a", id="7")]),
    (
        "retry_per_event",
        b"retry: 1500\ndata: a\n\ndata: b\n\n",
        [SSEEvent("a", retry=1500), SSEEvent("b")],
    ),
    (
        "retry_invalid_ignored",
        "retry: 1.5\nretry: -1\nretry: \u0661\u0662\nretry:\nretry: 9 \ndata: a\n\n".encode(),
        [SSEEvent("a")],
    ),
    ("retry_without_data_dropped", b"retry: 10\n\ndata: a\n\n", [SSEEvent("a")]),
    (
        "unknown_fields_ignored",
        b"foo: bar\nData: x\ndata : y\n data: z\ndata: ok\n\n",
        [SSEEvent("ok")],
    ),
    (
        "comments",
        b": ping\n:\n:no-space\n:  two\n",
        [SSEComment("ping"), SSEComment(""), SSEComment("no-space"), SSEComment(" two")],
    ),
    (
        "comment_inside_event",
        b"data: a\n: keep-alive\ndata: b\n\n",
        [SSEComment("keep-alive"), SSEEvent("a\nb")],
    ),
    ("bom", b"\xef\xbb\xbfdata: x\n\n", [SSEEvent("x")]),
    ("bom_then_comment", b"\xef\xbb\xbf: hi\n", [SSEComment("hi")]),
    (
        "bom_only_at_stream_start",
        b"\xef\xbb\xbfdata: x\n\n\xef\xbb\xbfdata: y\n\n",
        [SSEEvent("x")],
    ),
    ("bom_in_data_kept", b"data: \xef\xbb\xbfx\n\n", [SSEEvent("\ufeffx")]),
    ("flush_pending_event", b"data: last", [SSEEvent("last")]),
    ("flush_pending_lines", b"data: a\ndata: b\n", [SSEEvent("a\nb")]),
    ("flush_pending_cr", b"data: a\r", [SSEEvent("a")]),
    ("flush_pending_comment", b": bye", [SSEComment("bye")]),
    ("flush_event_without_data", b"event: x\nid: 3\n", []),
    (
        "flush_after_complete_event",
        b"data: a\n\ndata: b",
        [SSEEvent("a"), SSEEvent("b")],
    ),
]

ALL_STREAMS = OPENAI_STREAMS + SPEC_CASES
STREAM_IDS = [name for name, _, _ in ALL_STREAMS]


# --- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "raw", "expected"), ALL_STREAMS, ids=STREAM_IDS)
def test_decode_one_shot(name: str, raw: bytes, expected: list[Item]) -> None:
    assert decode_all([raw]) == expected


@pytest.mark.parametrize(("name", "raw", "expected"), ALL_STREAMS, ids=STREAM_IDS)
def test_decode_split_at_every_offset(name: str, raw: bytes, expected: list[Item]) -> None:
    for head, tail in two_way_splits(raw):
        assert decode_all([head, tail]) == expected, (head, tail)


@pytest.mark.parametrize(("name", "raw", "expected"), ALL_STREAMS, ids=STREAM_IDS)
def test_decode_byte_by_byte(name: str, raw: bytes, expected: list[Item]) -> None:
    assert decode_all(byte_by_byte(raw)) == expected


@pytest.mark.parametrize(
    ("name", "raw", "expected"), OPENAI_STREAMS, ids=[n for n, _, _ in OPENAI_STREAMS]
)
def test_openai_events_complete_without_flush(name: str, raw: bytes, expected: list[Item]) -> None:
    """Each event is returned as soon as its blank line arrives; flush has nothing left."""
    decoder = SSEDecoder()
    assert decoder.decode(raw) == expected
    assert decoder.flush() == []


def test_openai_text_survives_byte_by_byte() -> None:
    """Multi-byte characters split across chunks reassemble into the same deltas."""
    events = decode_all(byte_by_byte(openai_stream(CHAT)))
    assert events[-1] == SSEEvent(DONE)
    payloads = [orjson.loads(e.data) for e in events[:-1] if isinstance(e, SSEEvent)]
    text = "".join(p["choices"][0]["delta"].get("content") or "" for p in payloads)
    assert text == "".join(CONTENT_PIECES)


def test_n2_choices_keep_their_index() -> None:
    events = decode_all(byte_by_byte(openai_stream(CHAT_N2)))
    by_index: dict[int, str] = {0: "", 1: ""}
    for event in events:
        assert isinstance(event, SSEEvent)
        if event.data == DONE:
            continue
        for choice in orjson.loads(event.data)["choices"]:
            by_index[choice["index"]] += choice["delta"].get("content") or ""
    assert by_index == {0: "北京欢迎", 1: "上海🙂"}


def test_tool_call_arguments_reassemble() -> None:
    events = decode_all(byte_by_byte(openai_stream(TOOL_CALLS)))
    arguments = ""
    for event in events:
        assert isinstance(event, SSEEvent)
        if event.data == DONE:
            continue
        for call in orjson.loads(event.data)["choices"][0]["delta"].get("tool_calls", []):
            arguments += call["function"]["arguments"]
    assert orjson.loads(arguments) == {"city": "北京", "unit": "celsius"}


def test_usage_chunk_has_no_choices() -> None:
    events = decode_all([openai_stream(USAGE)])
    assert isinstance(events[-2], SSEEvent)
    last = orjson.loads(events[-2].data)
    assert last["choices"] == []
    assert last["usage"]["total_tokens"] == 15


@pytest.mark.parametrize(
    ("pieces", "returned"),
    [
        ([b"data: a\n", b"\n"], [[], [SSEEvent("a")]]),
        ([b"data: a\r\r"], [[SSEEvent("a")]]),  # a lone "\r" ends a line at once
        ([b"data: a\r", b"\n", b"\n"], [[], [], [SSEEvent("a")]]),
        ([b"data: a\r", b"\r"], [[], [SSEEvent("a")]]),
        ([b": ping\n"], [[SSEComment("ping")]]),
        ([b"data: \xe4", b"\xbd\xa0\n\n"], [[], [SSEEvent("你")]]),
        ([b"da", b"ta: x\n\ndata: y"], [[], [SSEEvent("x")]]),
    ],
)
def test_items_returned_as_soon_as_complete(
    pieces: list[bytes], returned: list[list[Item]]
) -> None:
    decoder = SSEDecoder()
    assert [decoder.decode(piece) for piece in pieces] == returned


def test_flush_resets_for_a_new_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.decode(b"id: 1\ndata: a\n\ndata: b") == [SSEEvent("a", id="1")]
    assert decoder.flush() == [SSEEvent("b", id="1")]
    assert decoder.decode(b"\xef\xbb\xbfdata: c\n\n") == [SSEEvent("c")]
    assert decoder.flush() == []


# --- failing closed -------------------------------------------------------------------------

INVALID_UTF8 = [
    pytest.param(b"data: \xff\n\n", id="invalid_byte"),
    pytest.param(b"data: \xc0\xaf\n\n", id="overlong"),
    pytest.param(b"data: \xed\xa0\x80\n\n", id="surrogate"),
    pytest.param(b"data: \xf4\x90\x80\x80\n\n", id="above_max_code_point"),
    pytest.param(b"data: \xe4\xbd\n\n", id="truncated_then_newline"),
    pytest.param(b"data: ok\n\ndata: \xe4\xbd", id="truncated_at_end"),
    pytest.param(b"\xef\xbb", id="truncated_bom"),
    pytest.param(b"data: \xbd\xa0\n\n", id="continuation_without_lead"),
]


@pytest.mark.parametrize("raw", INVALID_UTF8)
def test_invalid_utf8_raises_however_split(raw: bytes) -> None:
    with pytest.raises(SSEDecodeError, match="UTF-8"):
        decode_all([raw])
    with pytest.raises(SSEDecodeError, match="UTF-8"):
        decode_all(byte_by_byte(raw))
    for head, tail in two_way_splits(raw):
        with pytest.raises(SSEDecodeError, match="UTF-8"):
            decode_all([head, tail])


def test_decode_error_is_a_value_error_and_sticks() -> None:
    decoder = SSEDecoder()
    with pytest.raises(ValueError, match="invalid UTF-8") as caught:
        decoder.decode(b"data: \xff\n\n")
    assert isinstance(caught.value, SSEDecodeError)
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)
    with pytest.raises(SSEDecodeError, match="already failed"):
        decoder.decode(b"data: fine\n\n")
    with pytest.raises(SSEDecodeError, match="already failed"):
        decoder.flush()


LINE_LIMIT = 16

LINE_LENGTHS = [
    # (raw, accepted) with max_line_bytes=16; the limit excludes the line break.
    pytest.param(b"data: 0123456789\n\n", True, id="ascii_at_limit"),
    pytest.param(b"data: 0123456789a\n\n", False, id="ascii_over_limit"),
    pytest.param(("data: " + "é" * 5 + "\n\n").encode(), True, id="two_byte_at_limit"),
    pytest.param(("data: " + "é" * 5 + "a\n\n").encode(), False, id="two_byte_over_limit"),
    pytest.param(("data: " + "🙂" * 2 + "ab\r\n\r\n").encode(), True, id="four_byte_at_limit"),
    pytest.param(("data: " + "🙂" * 2 + "abc\r\n\r\n").encode(), False, id="four_byte_over"),
    pytest.param(b": 012345678901234\n", False, id="comment_over_limit"),
    pytest.param(b"data: 0123456789\n" * 20 + b"\n", True, id="many_lines_at_limit"),
    pytest.param(b"data: 0123456789a", False, id="unterminated_over_limit"),
    pytest.param(b"data: 0123456789", True, id="unterminated_at_limit"),
]


@pytest.mark.parametrize(("raw", "accepted"), LINE_LENGTHS)
def test_line_limit_however_split(raw: bytes, accepted: bool) -> None:
    splits = [[raw], byte_by_byte(raw), *([h, t] for h, t in two_way_splits(raw))]
    for pieces in splits:
        if accepted:
            assert decode_all(pieces, max_line_bytes=LINE_LIMIT)
        else:
            with pytest.raises(SSEDecodeError, match="longer than 16 bytes"):
                decode_all(pieces, max_line_bytes=LINE_LIMIT)


def test_unterminated_line_fails_before_end_of_stream() -> None:
    """A line that never ends is refused once it passes the limit, not buffered forever."""
    decoder = SSEDecoder(max_line_bytes=LINE_LIMIT)
    for byte in byte_by_byte(b"x" * LINE_LIMIT):
        assert decoder.decode(byte) == []
    with pytest.raises(SSEDecodeError, match="line longer"):
        decoder.decode(b"x")


EVENT_SIZES = [
    # (raw, accepted) with max_event_bytes=10: the joined data, "\n" between lines included.
    pytest.param(b"data: 12345\ndata: 1234\n\n", True, id="at_limit"),
    pytest.param(b"data: 12345\ndata: 12345\n\n", False, id="over_limit"),
    pytest.param(b"data\n" * 11 + b"\n", True, id="eleven_empty_lines_at_limit"),
    pytest.param(b"data\n" * 12 + b"\n", False, id="many_empty_lines_over_limit"),
    pytest.param(b"data: 0123456789\n\n" * 5, True, id="limit_is_per_event"),
    pytest.param(("data: 你好\ndata: 你\n\n").encode(), True, id="multi_byte_at_limit"),
    pytest.param(("data: 你好\ndata: 你a\n\n").encode(), False, id="multi_byte_over_limit"),
]


@pytest.mark.parametrize(("raw", "accepted"), EVENT_SIZES)
def test_event_limit(raw: bytes, accepted: bool) -> None:
    for pieces in ([raw], byte_by_byte(raw)):
        if accepted:
            assert decode_all(pieces, max_event_bytes=10)
        else:
            with pytest.raises(SSEDecodeError, match="event data longer than 10 bytes"):
                decode_all(pieces, max_event_bytes=10)


@pytest.mark.parametrize("limits", [{"max_line_bytes": 0}, {"max_event_bytes": -1}])
def test_limits_must_be_positive(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        SSEDecoder(**limits)


# --- encoding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "wire"),
    [
        (SSEEvent("x"), b"data: x\n\n"),
        (SSEEvent(""), b"data: \n\n"),
        (SSEEvent(DONE), b"data: [DONE]\n\n"),
        (SSEEvent("你好🙂"), "data: 你好🙂\n\n".encode()),
        (SSEEvent("a\nb"), b"data: a\ndata: b\n\n"),
        (SSEEvent("a\r\nb\rc"), b"data: a\ndata: b\ndata: c\n\n"),
        (SSEEvent("a\n"), b"data: a\ndata: \n\n"),
        (SSEEvent(" lead"), b"data:  lead\n\n"),
        (SSEEvent("a\u2028b"), "data: a\u2028b\n\n".encode()),
        (
            SSEEvent("{}", event="error", id="42", retry=3000),
            b"event: error\nid: 42\nretry: 3000\ndata: {}\n\n",
        ),
        (SSEEvent("x", event=""), b"data: x\n\n"),
        (SSEEvent("x", id=""), b"id: \ndata: x\n\n"),
    ],
)
def test_encode_event(event: SSEEvent, wire: bytes) -> None:
    assert encode_event(event) == wire


@pytest.mark.parametrize(
    "event",
    [
        SSEEvent("x", event="a\nb"),
        SSEEvent("x", event="a\rb"),
        SSEEvent("x", id="1\n2"),
        SSEEvent("x", id="1\x002"),
        SSEEvent("x", retry=-1),
    ],
)
def test_encode_event_refuses_what_sse_cannot_carry(event: SSEEvent) -> None:
    with pytest.raises(ValueError, match="SSE"):
        encode_event(event)


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b'{"a":1}', b'data: {"a":1}\n\n'),
        ('{"a":"北京"}', 'data: {"a":"北京"}\n\n'.encode()),
        (DONE, b"data: [DONE]\n\n"),
        (b"", b"data: \n\n"),
        (b"a\nb", b"data: a\ndata: b\n\n"),  # never a raw line break inside one data line
        ("a\rb", b"data: a\ndata: b\n\n"),
    ],
)
def test_encode_data(data: bytes | str, wire: bytes) -> None:
    assert encode_data(data) == wire


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("ping", b": ping\n\n"),
        ("", b":\n\n"),
        (" two", b":  two\n\n"),
        ("a\nb", b": a\n: b\n\n"),
        ("a\n\nb", b": a\n:\n: b\n\n"),
    ],
)
def test_encode_comment(text: str, wire: bytes) -> None:
    assert encode_comment(text) == wire


@pytest.mark.parametrize(
    ("name", "raw", "expected"), OPENAI_STREAMS, ids=[n for n, _, _ in OPENAI_STREAMS]
)
def test_reencoding_openai_streams_is_byte_exact(
    name: str, raw: bytes, expected: list[Item]
) -> None:
    """What the proxy forwards unchanged is what upstream sent (line endings aside)."""
    canonical = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    items = decode_all([raw])
    via_event = b"".join(
        encode_event(i) if isinstance(i, SSEEvent) else encode_comment(i.text) for i in items
    )
    via_data = b"".join(
        encode_data(i.data) if isinstance(i, SSEEvent) else encode_comment(i.text) for i in items
    )
    assert via_event == canonical
    assert via_data == canonical


# --- properties -----------------------------------------------------------------------------

_any_text = st.text(st.characters(codec="utf-8"), max_size=40)
_line_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)
_id_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=10)

_events = st.builds(
    SSEEvent,
    data=_any_text,
    event=st.none() | _line_text.filter(bool),
    id=st.none() | _id_text,
    retry=st.none() | st.integers(min_value=0, max_value=2**40),
)
_items = st.lists(st.one_of(_events, st.builds(SSEComment, _line_text)), max_size=12)


def expected_after_round_trip(items: list[Item]) -> list[Item]:
    """Line breaks in data all come back as "\\n"; an event id carries over (WHATWG)."""
    expected: list[Item] = []
    last_id: str | None = None
    for item in items:
        if isinstance(item, SSEComment):
            expected.append(item)
            continue
        if item.id is not None:
            last_id = item.id
        data = item.data.replace("\r\n", "\n").replace("\r", "\n")
        expected.append(SSEEvent(data, item.event, last_id, item.retry))
    return expected


def encode_item(item: Item) -> bytes:
    return encode_event(item) if isinstance(item, SSEEvent) else encode_comment(item.text)


@settings(max_examples=300)
@given(items=_items, data=st.data())
def test_round_trip_split_anywhere(items: list[Item], data: st.DataObject) -> None:
    raw = b"".join(encode_item(item) for item in items)
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=8))
    expected = expected_after_round_trip(items)
    assert decode_all([raw]) == expected
    assert decode_all(split_at(raw, cuts)) == expected


def reference_parse(raw: bytes, max_line_bytes: int) -> list[Item]:
    """The WHATWG interpretation over the whole stream at once, with this module's two
    departures: strict UTF-8, and an unterminated last event is dispatched at the end."""
    text = raw.decode("utf-8").removeprefix("\ufeff")
    lines = [*re.split("\r\n|\r|\n", text), ""]
    if any(len(line.encode("utf-8")) > max_line_bytes for line in lines):
        raise SSEDecodeError("line too long")
    items: list[Item] = []
    data: list[str] = []
    event_type = ""
    last_id: str | None = None
    retry: int | None = None
    for line in lines:
        if not line:
            if data:
                items.append(SSEEvent("\n".join(data), event_type or None, last_id, retry))
            data, event_type, retry = [], "", None
            continue
        if line.startswith(":"):
            items.append(SSEComment(line[1:].removeprefix(" ")))
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value
        elif name == "id" and "\x00" not in value:
            last_id = value
        elif name == "retry" and re.fullmatch("[0-9]+", value):
            retry = int(value)
    return items


_fragments = st.sampled_from(
    [
        b"data",
        b"event",
        b"id",
        b"retry",
        b":",
        b" ",
        b"\r",
        b"\n",
        b"\n\n",
        b"\r\n",
        b"7",
        b"x",
        b"\x00",
        "é".encode(),
        "你".encode(),
        "🙂".encode(),
        "\u2028".encode(),
        b"\xef\xbb\xbf",
        b"\xe4",
        b"\xff",
    ]
)


def outcome(pieces: list[bytes], max_line_bytes: int) -> list[Item] | str:
    try:
        return decode_all(pieces, max_line_bytes=max_line_bytes)
    except SSEDecodeError:
        return "error"


@settings(max_examples=500)
@given(fragments=st.lists(_fragments, max_size=40), data=st.data())
def test_matches_reference_parser_however_split(
    fragments: list[bytes], data: st.DataObject
) -> None:
    raw = b"".join(fragments)
    max_line_bytes = data.draw(st.integers(min_value=1, max_value=24))
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=8))
    try:
        expected: list[Item] | str = reference_parse(raw, max_line_bytes)
    except (UnicodeDecodeError, SSEDecodeError):
        expected = "error"
    assert outcome([raw], max_line_bytes) == expected
    assert outcome(split_at(raw, cuts), max_line_bytes) == expected
