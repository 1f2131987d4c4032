"""Server-Sent Events: an incremental decoder and an encoder for OpenAI streaming responses.

The proxy must see every streamed delta before the client does (STYLE habit 5), so it decodes
the upstream byte stream into events, lets the policy look at them, and encodes them again.
Upstream chunks can be split anywhere: inside a line, between ``\\r`` and ``\\n``, inside a
multi-byte UTF-8 character. `SSEDecoder` follows the WHATWG parsing rules
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
and gives the same events however the bytes are split, like httpx's ``LineDecoder``.

Two deliberate departures from the spec, both in favour of failing closed:

* invalid UTF-8 raises `SSEDecodeError` instead of becoming U+FFFD, so nothing unreadable is
  ever passed through unexamined;
* `SSEDecoder.flush` dispatches an event whose blank line never came (the spec drops it),
  so the proxy examines and forwards the last chunk of a stream that was cut short.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = [
    "DONE",
    "SSEComment",
    "SSEDecodeError",
    "SSEDecoder",
    "SSEEvent",
    "encode_comment",
    "encode_data",
    "encode_event",
]

DONE = "[DONE]"
"""The data of OpenAI's last event; it is not JSON."""

DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024


class SSEDecodeError(ValueError):
    """The byte stream is not a stream the proxy can examine (bad UTF-8, over-long line)."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event.

    `data` is the event's data lines joined with ``"\\n"``. `event` is None for the default
    type (``message``). `id` is the stream's last event id, which per the spec carries over to
    later events until a new ``id:`` line sets it. `retry` is set only on the event whose
    block carried a valid ``retry:`` line.
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


@dataclass(frozen=True, slots=True)
class SSEComment:
    """A ``:`` line, such as a ``: ping`` keep-alive; `text` drops the colon and one space.

    The proxy forwards comments so idle-connection timeouts keep being reset downstream.
    """

    text: str


def _utf8_len(text: str) -> int:
    # str.isascii() is O(1) in CPython, so ASCII text (most JSON) is never re-encoded.
    return len(text) if text.isascii() else len(text.encode("utf-8"))


class SSEDecoder:
    """Turns a byte stream into `SSEEvent` and `SSEComment` items, in stream order.

    Call `decode` with each chunk as it arrives and `flush` once at end of stream. Each call
    returns only what is complete. Memory is bounded: a line longer than `max_line_bytes` or
    an event whose data exceeds `max_event_bytes` (both in UTF-8 bytes) raises
    `SSEDecodeError`, as does invalid UTF-8. After an error the decoder stays failed.
    """

    __slots__ = (
        "_at_stream_start",
        "_data_bytes",
        "_data_lines",
        "_error",
        "_event_type",
        "_last_event_id",
        "_line_bytes",
        "_line_parts",
        "_max_event_bytes",
        "_max_line_bytes",
        "_retry",
        "_skip_lf",
        "_utf8",
    )

    def __init__(
        self,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        if max_line_bytes < 1 or max_event_bytes < 1:
            raise ValueError("max_line_bytes and max_event_bytes must be positive")
        self._max_line_bytes = max_line_bytes
        self._max_event_bytes = max_event_bytes
        self._error: SSEDecodeError | None = None
        self._reset()

    def _reset(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._at_stream_start = True
        # The previous chunk ended with "\r": a "\n" opening the next one belongs to it.
        self._skip_lf = False
        # The unterminated last line, kept as pieces so tiny chunks never cost O(n^2).
        self._line_parts: list[str] = []
        self._line_bytes = 0
        self._data_lines: list[str] = []
        self._data_bytes = 0
        self._event_type: str | None = None
        self._last_event_id: str | None = None
        self._retry: int | None = None

    def decode(self, chunk: bytes) -> list[SSEEvent | SSEComment]:
        """Feed the next chunk; return the items it completes (possibly none)."""
        if self._error is not None:
            raise SSEDecodeError(f"decoder already failed: {self._error}")
        try:
            text = self._utf8.decode(chunk)
        except UnicodeDecodeError as exc:
            raise self._fail(f"invalid UTF-8 in event stream: {exc.reason}") from exc
        if not text:
            return []
        return self._decode_text(text)

    def flush(self) -> list[SSEEvent | SSEComment]:
        """End the stream: finish a pending line and dispatch pending data; then reset.

        Raises `SSEDecodeError` if the stream ended inside a UTF-8 character.
        """
        if self._error is not None:
            raise SSEDecodeError(f"decoder already failed: {self._error}")
        try:
            text = self._utf8.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise self._fail(f"event stream ends inside a UTF-8 character: {exc.reason}") from exc
        items = self._decode_text(text) if text else []
        if self._line_parts:
            last_line = "".join(self._line_parts)
            self._line_parts = []
            self._process_lines([last_line], items)
        self._process_lines([""], items)
        self._reset()
        return items

    def _fail(self, message: str) -> SSEDecodeError:
        self._error = SSEDecodeError(message)
        return self._error

    def _decode_text(self, text: str) -> list[SSEEvent | SSEComment]:
        """Split decoded text into complete lines; keep the unterminated rest for later."""
        if self._at_stream_start:
            self._at_stream_start = False
            if text[0] == "\ufeff":
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text[:1] == "\n":
                text = text[1:]
        if not text:
            return []
        if "\r" in text:
            # A trailing "\r" already ends its line; remember to drop a "\n" that follows.
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        unterminated = lines.pop()
        if self._line_parts and lines:
            lines[0] = self._join_pending(lines[0])
        for line in lines:
            # Fast bound: a UTF-8 character takes at most 4 bytes.
            if len(line) * 4 > self._max_line_bytes and _utf8_len(line) > self._max_line_bytes:
                raise self._line_too_long()
        if unterminated:
            self._line_parts.append(unterminated)
            self._line_bytes += _utf8_len(unterminated)
            if self._line_bytes > self._max_line_bytes:
                raise self._line_too_long()
        items: list[SSEEvent | SSEComment] = []
        if lines:
            self._process_lines(lines, items)
        return items

    def _join_pending(self, end_of_line: str) -> str:
        self._line_parts.append(end_of_line)
        line = "".join(self._line_parts)
        self._line_parts = []
        self._line_bytes = 0
        return line

    def _line_too_long(self) -> SSEDecodeError:
        return self._fail(f"event stream line longer than {self._max_line_bytes} bytes")

    def _process_lines(self, lines: list[str], items: list[SSEEvent | SSEComment]) -> None:
        """Apply the WHATWG per-line rules, appending dispatched items to `items`."""
        for line in lines:
            if not line:
                self._dispatch(items)
                continue
            if line.startswith("data: "):  # the hot path: one JSON chunk per event
                field, value = "data", line[6:]
            elif line[0] == ":":
                items.append(SSEComment(line[2:] if line[1:2] == " " else line[1:]))
                continue
            else:
                field, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
            if field == "data":
                # Counts the joined data: each line after the first adds its "\n".
                self._data_bytes += _utf8_len(value) + (1 if self._data_lines else 0)
                self._data_lines.append(value)
                if self._data_bytes > self._max_event_bytes:
                    raise self._fail(f"event data longer than {self._max_event_bytes} bytes")
            elif field == "event":
                self._event_type = value or None
            elif field == "id":
                if "\0" not in value:
                    self._last_event_id = value
            elif field == "retry" and value.isascii() and value.isdigit():
                self._retry = int(value)
            # Any other field is ignored, as the spec requires.

    def _dispatch(self, items: list[SSEEvent | SSEComment]) -> None:
        """A blank line: emit the pending event if it has data; reset the per-event state."""
        data_lines = self._data_lines
        if data_lines:
            data = data_lines[0] if len(data_lines) == 1 else "\n".join(data_lines)
            items.append(SSEEvent(data, self._event_type, self._last_event_id, self._retry))
            self._data_lines = []
            self._data_bytes = 0
        self._event_type = None
        self._retry = None


def _split_lines(text: str) -> list[str]:
    """Split on the SSE line breaks only (not str.splitlines, which also splits on U+2028)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _check_field_value(name: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise ValueError(f"SSE {name} must not contain a line break: {value!r}")


def encode_event(event: SSEEvent) -> bytes:
    """Encode one event, ending with the blank line that dispatches it.

    Multi-line data becomes several ``data:`` lines; ``\\r\\n`` and ``\\r`` in data come back
    from the decoder as ``\\n``, since SSE cannot tell the three apart. An empty `event` is
    the default type and is omitted.
    """
    lines: list[str] = []
    if event.event:
        _check_field_value("event", event.event)
        lines.append(f"event: {event.event}")
    if event.id is not None:
        _check_field_value("id", event.id)
        if "\0" in event.id:
            raise ValueError(f"SSE id must not contain NUL: {event.id!r}")
        lines.append(f"id: {event.id}")
    if event.retry is not None:
        if event.retry < 0:
            raise ValueError(f"SSE retry must be a non-negative integer: {event.retry}")
        lines.append(f"retry: {event.retry}")
    lines.extend(f"data: {line}" for line in _split_lines(event.data))
    lines.append("\n")
    return "\n".join(lines).encode("utf-8")


def encode_data(data: bytes | str) -> bytes:
    """Encode a plain ``data:`` event: the fast path for one serialized JSON chunk.

    Data with a line break falls back to `encode_event`, so it can never inject fields.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if b"\n" in raw or b"\r" in raw:
        return encode_event(SSEEvent(raw.decode("utf-8")))
    return b"data: " + raw + b"\n\n"


def encode_comment(text: str) -> bytes:
    """Encode a comment (one ``:`` line per line of `text`) followed by a blank line.

    The blank line dispatches nothing, but lets line-buffering middleboxes pass it on now.
    """
    lines = [f": {line}" if line else ":" for line in _split_lines(text)]
    lines.append("\n")
    return "\n".join(lines).encode("utf-8")
