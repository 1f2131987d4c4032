"""Where a stream event is guarded: what `StreamGuard.weight` counts."""

from __future__ import annotations

from policies.engine import Policy
from proxy.app import create_app
from proxy.openai import Route
from proxy.relay import StreamGuard
from proxy.sse import SSEComment, SSEEvent
from proxy.state import STATE, Settings
from proxy.upstream import UpstreamConfig


def _guard(policy: Policy) -> StreamGuard:
    app = create_app(Settings(upstream=UpstreamConfig(base_url="http://127.0.0.1:9/v1")), policy)
    return StreamGuard(Route.CHAT, policy, app[STATE], 1)


def test_an_event_weighs_what_the_scanners_hold_back_as_well(default_policy: Policy) -> None:
    guard = _guard(default_policy)
    done = SSEEvent(data="[DONE]")
    assert guard.weight(done) == len("[DONE]")
    assert guard.weight(SSEComment("ping")) == 0
    limit = guard.state.settings.guard_inline_chars
    for index in range(50):  # fifty tool calls, each holding back a run of digits
        guard.scanner((index, "arguments")).feed("call 1" + "3" * 20)
    held = sum(scanner.pending_chars for scanner in guard.scanners.values())
    assert held > 0
    assert guard.weight(done) > limit  # `[DONE]` flushes them all: guarded on the pool (review)


def test_a_long_event_has_its_digits_weighed(default_policy: Policy) -> None:
    guard = _guard(default_policy)
    limit = guard.state.settings.guard_inline_chars
    prose = SSEEvent(data='{"choices": [{"delta": {"content": "' + "word " * 300 + '"}}]}')
    numbers = SSEEvent(data='{"choices": [{"delta": {"content": "' + "+1234567 " * 300 + '"}}]}')
    assert guard.weight(prose) <= limit < guard.weight(numbers)


def test_a_held_back_row_of_digit_groups_is_weighed_as_text(default_policy: Policy) -> None:
    # `tel 1 / 2 / 3 / …` sent a group an event: the phone matcher reads the held row again with
    # every event, up to 23 ms each; weighed as digits only, every event was guarded inline.
    guard = _guard(default_policy)
    limit = guard.state.settings.guard_inline_chars
    scanner = guard.scanner((0, "content"))
    scanner.feed("tel ")
    for digit in range(30):
        scanner.feed(f"{digit % 10} / ")
    token = SSEEvent(data='{"choices": [{"index": 0, "delta": {"content": "7"}}]}')
    assert scanner.pending_chars > 16 and guard.weight(token) > limit
    prose = _guard(default_policy)
    prose.scanner((0, "content")).feed("Call me at 1381234")  # an ordinary hold: a number in progress
    assert prose.weight(token) <= limit
