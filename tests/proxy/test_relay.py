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
