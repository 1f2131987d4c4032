"""Where a text is guarded: inline, or on the guard's thread pool (`Flow.run`)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from policies.engine import Policy
from policies.findings import Direction
from proxy.app import create_app
from proxy.flow import DIGIT_WEIGHT, SLOT_WEIGHT, Flow, guard_weight
from proxy.openai import Route
from proxy.state import STATE, Settings
from proxy.upstream import UpstreamConfig

LIMIT = Settings.__dataclass_fields__["guard_inline_chars"].default


def test_prose_weighs_its_characters() -> None:
    assert guard_weight(["hello, 世界"], LIMIT) == len("hello, 世界")
    assert guard_weight(["hello, 世界".encode()], LIMIT) == len("hello, 世界".encode())  # an answer's JSON body
    assert guard_weight(["hello", "世界"], LIMIT) == 7 + SLOT_WEIGHT  # each message costs something however short
    assert guard_weight(["a"] * 4000, LIMIT) > LIMIT  # 4,000 one-letter messages: 77 ms inline


@pytest.mark.parametrize("digits", [
    "138", "１３８", "١٣٨", "๑๓๘", "𝟏𝟑𝟖", "¹³⁸", "①③⑧", "一三八",  # all read as digits somewhere in the guard
    "⼀⼆⼋", "\uf9b2\uf96b", "🈩🈔", "\uffee",  # Kangxi, compatibility ideographs, enclosed: fold to numerals (review)
])
def test_digits_weigh_more_in_every_script(digits: str) -> None:
    assert guard_weight([f"call {digits}"], LIMIT) == 5 + len(digits) * (1 + DIGIT_WEIGHT)


def test_a_lone_surrogate_is_weighed_not_refused() -> None:
    assert guard_weight(["\ud800 1"], LIMIT) == 3 + DIGIT_WEIGHT


def test_a_text_already_too_long_is_not_weighed_further() -> None:
    big = "1" * (LIMIT + 1)
    assert guard_weight([big], LIMIT) == len(big)


def test_ordinary_prompts_stay_inline_and_crafted_numbers_do_not() -> None:
    prose = ("我的手机是13812345678，邮箱 li.lei@example.com。Please call +44 20 7946 0958 tomorrow about "
             "the invoice for order 2024-11-27, and send the draft to the whole team before noon. ") * 6  # 1 KB
    assert guard_weight([prose], LIMIT) <= LIMIT
    numbers = "".join(f"+{1_234_567 + 7_919 * i} " for i in range(455))  # ~4 KB: ~120 ms inline
    assert len(numbers) <= LIMIT < guard_weight([numbers], LIMIT)


async def test_a_cancelled_request_waits_for_the_guard_work_it_started(default_policy: Policy) -> None:
    # A client that goes away cancels its request; the worker thread cannot be stopped, and what
    # it finds belongs in the audit written after it (review), so the cancellation waits for it.
    app = create_app(Settings(upstream=UpstreamConfig(base_url="http://127.0.0.1:9/v1")), default_policy)
    flow = Flow(app[STATE], default_policy, Route.CHAT, "request", "client")
    finished = threading.Event()

    def work() -> str:
        time.sleep(0.2)
        finished.set()
        return "done"

    task = asyncio.create_task(flow.run(LIMIT + 1, Direction.COMPLETION, work))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished.is_set()
    assert await flow.run(LIMIT + 1, Direction.COMPLETION, lambda: "again") == "again"  # the pool is free
