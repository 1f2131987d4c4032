"""Where the text lives in OpenAI requests, responses and stream chunks.

Each function walks one wire shape and returns `TextSlot`s: a reference to a string inside the
parsed JSON, so the guard can read it and write the redacted text back in place. Everything
not listed here is forwarded untouched. A shape the proxy cannot read is a `BadRequest` (from
the client) or `UpstreamUnavailable` (from the model): never forwarded unscanned.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from proxy.errors import BadRequest, UpstreamUnavailable


class Route(StrEnum):
    CHAT = "chat/completions"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"


@dataclass(slots=True)
class TextSlot:
    """One string in a JSON document: `container[key]`, named by its JSON path in `param`."""

    container: Any
    key: str | int
    param: str

    @property
    def text(self) -> str:
        value = self.container[self.key]
        assert isinstance(value, str)
        return value

    def replace(self, text: str) -> None:
        self.container[self.key] = text


def _bad(param: str, message: str) -> BadRequest:
    return BadRequest(f"Invalid value for '{param}': {message}", param=param, code="invalid_value")


def _string_or_none(container: dict[str, Any], key: str, param: str, out: list[TextSlot]) -> None:
    value = container.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        raise _bad(param, "expected a string")
    out.append(TextSlot(container, key, param))


def _tool_call_slots(message: dict[str, Any], param: str, out: list[TextSlot]) -> None:
    tool_calls = message.get("tool_calls")
    if tool_calls is not None:
        if not isinstance(tool_calls, list):
            raise _bad(f"{param}.tool_calls", "expected an array")
        for j, call in enumerate(tool_calls):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                raise _bad(f"{param}.tool_calls[{j}]", "expected an object with 'function'")
            _string_or_none(function, "arguments", f"{param}.tool_calls[{j}].function.arguments", out)
    function_call = message.get("function_call")
    if isinstance(function_call, dict):
        _string_or_none(function_call, "name", f"{param}.function_call.name", out)
        _string_or_none(function_call, "arguments", f"{param}.function_call.arguments", out)
    elif function_call is not None:
        raise _bad(f"{param}.function_call", "expected an object with 'name' and 'arguments'")


def _content_slots(message: dict[str, Any], param: str, out: list[TextSlot]) -> None:
    content = message.get("content")
    if content is None or isinstance(content, str):
        _string_or_none(message, "content", f"{param}.content", out)
        return
    if not isinstance(content, list):
        raise _bad(f"{param}.content", "expected a string or an array of content parts")
    for k, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise _bad(f"{param}.content[{k}]", "expected a content part object with a 'type'")
        if part["type"] in ("text", "input_text", "refusal"):
            key = "refusal" if part["type"] == "refusal" else "text"
            if not isinstance(part.get(key), str):
                raise _bad(f"{param}.content[{k}].{key}", "expected a string")
            out.append(TextSlot(part, key, f"{param}.content[{k}].{key}"))


def chat_request_slots(body: dict[str, Any]) -> list[TextSlot]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", param="messages", code="invalid_value")
    out: list[TextSlot] = []
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise _bad(param, "expected a message object with a string 'role'")
        if message["role"] not in _ROLES:  # chat templates render a role into the prompt as it is
            out.append(TextSlot(message, "role", f"{param}.role"))
        _content_slots(message, param, out)
        _string_or_none(message, "name", f"{param}.name", out)
        _string_or_none(message, "reasoning_content", f"{param}.reasoning_content", out)
        _tool_call_slots(message, param, out)
        for j, call in enumerate(message.get("tool_calls") or ()):
            _string_or_none(call["function"], "name", f"{param}.tool_calls[{j}].function.name", out)
    for key in _TEMPLATED_KEYS:  # rendered into the prompt by chat templates
        if key in body:
            _all_strings(body, key, key, out)
    return out


#: The roles OpenAI's API knows; any other role string is guarded like the message's text.
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

#: Request fields whose strings chat templates render into the prompt: tool and function
#: descriptions and schemas, structured-output schemas. Every string in them is guarded.
_TEMPLATED_KEYS = ("tools", "functions", "response_format")

#: Request fields whose answers the proxy cannot guard (token log-probabilities repeat the
#: tokens; audio output carries a transcript): refused rather than passed through unguarded.
_UNGUARDABLE = {
    "logprobs": "token log-probabilities repeat the answer's text outside the fields the proxy guards",
    "top_logprobs": "token log-probabilities repeat the answer's text outside the fields the proxy guards",
    "audio": "audio output cannot be guarded",
}


def _all_strings(container: Any, key: str | int, param: str, out: list[TextSlot]) -> None:
    """Every string value inside `container[key]` (object keys are names, not text)."""
    value = container[key]
    if isinstance(value, str):
        out.append(TextSlot(container, key, param))
    elif isinstance(value, dict):
        for name in value:
            _all_strings(value, name, f"{param}.{name}", out)
    elif isinstance(value, list):
        for i in range(len(value)):
            _all_strings(value, i, f"{param}[{i}]", out)


def _refuse_unguardable(body: dict[str, Any]) -> None:
    for key, why in _UNGUARDABLE.items():
        if body.get(key) not in (None, False, 0):
            raise BadRequest(f"'{key}' is not supported through the guard: {why}", param=key, code="unsupported_input")
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities:
        raise BadRequest("audio output cannot be guarded", param="modalities", code="unsupported_input")


def _prompt_list_slots(body: dict[str, Any], key: str) -> list[TextSlot]:
    """`prompt` / `input`: a string or a list of strings. Token arrays cannot be scanned."""
    value = body.get(key)
    if isinstance(value, str):
        return [TextSlot(body, key, key)]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [TextSlot(value, i, f"{key}[{i}]") for i in range(len(value))]
    if isinstance(value, list) and value and all(isinstance(v, (int, list)) for v in value):
        raise BadRequest(
            f"'{key}' as token ids cannot be guarded; send text instead",
            param=key, code="unsupported_input",
        )
    raise BadRequest(f"'{key}' must be a string or a non-empty array of strings", param=key, code="invalid_value")


def request_slots(route: Route, body: Any) -> list[TextSlot]:
    """Every text in a client request that the guard must see before the model does."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object", code="invalid_json")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad("model", "expected a string")
    # The proxy reads these two to decide how to relay the answer; an upstream that coerces
    # ("stream": 1 or "true" is True to pydantic) would answer differently: refuse, as OpenAI does.
    stream, n = body.get("stream"), body.get("n")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", "expected a boolean")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool)):
        raise _bad("n", "expected an integer")
    if route is Route.EMBEDDINGS:
        return _prompt_list_slots(body, "input")
    _refuse_unguardable(body)
    if route is Route.CHAT:
        return chat_request_slots(body)
    out = _prompt_list_slots(body, "prompt")
    _string_or_none(body, "suffix", "suffix", out)
    return out


def _choices(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise UpstreamUnavailable("The upstream returned a response that is not a JSON object")
    choices = body.get("choices", [])
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise UpstreamUnavailable("The upstream returned 'choices' of an unexpected shape")
    return choices


def _choice_index(choice: dict[str, Any], position: int) -> int:
    """A choice's `index`, or its position when it has none.

    Any other value is refused: callers match choices to verdicts by this index, so an
    `index` they would read differently (null, "0") could let a blocked choice through.
    """
    index = choice.get("index", position)
    if not isinstance(index, int) or isinstance(index, bool):
        raise UpstreamUnavailable("The upstream returned a choice whose 'index' is not an integer")
    return index


def response_slots(route: Route, body: Any) -> list[tuple[int, TextSlot]]:
    """Every text in a non-streamed model response, with the index of its choice."""
    out: list[tuple[int, TextSlot]] = []
    if route is Route.EMBEDDINGS:
        return out
    try:
        for position, choice in enumerate(_choices(body)):
            index = _choice_index(choice, position)
            slots: list[TextSlot] = []
            if route is Route.COMPLETIONS:
                _string_or_none(choice, "text", f"choices[{position}].text", slots)
            else:
                message = choice.get("message")
                if not isinstance(message, dict):
                    raise UpstreamUnavailable("The upstream returned a choice without a 'message' object")
                for key in ("content", "reasoning_content", "refusal"):
                    _string_or_none(message, key, f"choices[{position}].message.{key}", slots)
                _tool_call_slots(message, f"choices[{position}].message", slots)
            out.extend((index, slot) for slot in slots)
    except BadRequest as exc:  # a wrong type in the *response* is the upstream's fault
        raise UpstreamUnavailable(f"The upstream response is malformed: {exc.message}") from None
    return out


def stream_slots(route: Route, chunk: Any) -> list[tuple[tuple[int, str], TextSlot]]:
    """Texts of one stream chunk, keyed by (choice index, field) so each gets its own scanner.

    Tool-call argument pieces are keyed by the tool call's `index`, which is how the OpenAI wire
    format ties the pieces of one call's arguments together; the legacy `function_call` pieces
    by `"function_call"`.
    """
    out: list[tuple[tuple[int, str], TextSlot]] = []
    try:
        for position, choice in enumerate(_choices(chunk)):
            index = _choice_index(choice, position)
            if route is Route.COMPLETIONS:
                slots: list[TextSlot] = []
                _string_or_none(choice, "text", "text", slots)
                out.extend(((index, "text"), slot) for slot in slots)
                continue
            delta = choice.get("delta")
            if delta is None:
                continue
            if not isinstance(delta, dict):
                raise UpstreamUnavailable("The upstream sent a stream chunk whose 'delta' is not an object")
            for key in ("content", "reasoning_content", "refusal"):
                slots = []
                _string_or_none(delta, key, key, slots)
                out.extend(((index, key), slot) for slot in slots)
            out.extend(((index, key), slot) for key, slot in _delta_call_slots(delta))
    except BadRequest as exc:
        raise UpstreamUnavailable(f"The upstream stream chunk is malformed: {exc.message}") from None
    return out


def _delta_call_slots(delta: dict[str, Any]) -> list[tuple[str, TextSlot]]:
    """Argument pieces of a delta's `tool_calls` and legacy `function_call`; other shapes are refused."""
    out: list[tuple[str, TextSlot]] = []
    tool_calls = delta.get("tool_calls")
    if tool_calls is not None and not isinstance(tool_calls, list):
        raise UpstreamUnavailable("The upstream sent a stream chunk whose 'tool_calls' is not an array")
    for position, call in enumerate(tool_calls or ()):
        function = call.get("function") if isinstance(call, dict) else None
        call_index = call.get("index", position) if isinstance(call, dict) else None
        if not isinstance(call_index, int) or isinstance(call_index, bool) or not isinstance(function, dict | None):
            raise UpstreamUnavailable("The upstream sent a tool call delta of an unexpected shape")
        slots: list[TextSlot] = []
        if function is not None:
            _string_or_none(function, "arguments", "arguments", slots)
        out.extend((f"tool_calls[{call_index}]", slot) for slot in slots)
    function_call = delta.get("function_call")
    if function_call is not None:
        if not isinstance(function_call, dict):
            raise UpstreamUnavailable("The upstream sent a stream chunk whose 'function_call' is not an object")
        slots = []
        _string_or_none(function_call, "arguments", "arguments", slots)
        out.extend(("function_call", slot) for slot in slots)
    return out


#: Keys under which guarded text lives. A JSON document that repeats one of them in an object
#: is read differently by different parsers (orjson keeps the last, some keep the first).
GUARDED_KEYS = (
    "messages", "content", "text", "prompt", "input", "name", "arguments", "tool_calls",
    "function_call", "function", "choices", "message", "delta", "reasoning_content", "refusal",
)


def _count_keys(node: Any, counts: dict[str, int]) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in counts:
                    counts[key] += 1
                if isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))


def may_shadow_keys(raw: bytes, body: Any) -> bool:
    """Whether `raw` could hold a repeated guarded key that parsing dropped.

    The guard saw the parsed document; forwarding the raw bytes is only safe when every parser
    will read the same. When a guarded key occurs in the bytes more often than in the parsed
    tree (a duplicate key, or the same word quoted as a value: harmless, but cheaper to treat
    alike), the caller forwards the re-encoded document instead of the raw bytes.
    """
    if b"\\u" in raw:  # an escaped key ("cont\\u0065nt") cannot be counted in the bytes
        return True
    counts = dict.fromkeys(GUARDED_KEYS, 0)
    _count_keys(body, counts)
    return any(raw.count(b'"' + key.encode() + b'"') > count for key, count in counts.items())
