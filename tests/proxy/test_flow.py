"""Where a text is guarded: inline, or on the guard's thread pool (`Flow.run`)."""

from __future__ import annotations

import asyncio
import re
import threading
import time

import pytest

from policies.engine import Policy
from policies.findings import Direction
from proxy.app import create_app
from proxy.flow import (
    CHAIN_FREE_RUNS,
    CHAIN_RUN_WEIGHT,
    DIGIT_WEIGHT,
    PLUS_WEIGHT,
    RUN_WEIGHT,
    SLOT_WEIGHT,
    SYMBOL_WEIGHT,
    Flow,
    guard_weight,
)
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
    # At least: those read as letters or digits by keyword matching too weigh as symbols as well.
    assert guard_weight([f"call {digits}"], LIMIT) >= 5 + len(digits) * (1 + DIGIT_WEIGHT) + RUN_WEIGHT


def test_each_run_of_digits_weighs_and_long_chains_of_them_weigh_most() -> None:
    assert guard_weight(["1 2"], LIMIT) == 3 + 2 * DIGIT_WEIGHT + 2 * RUN_WEIGHT
    card = "6228 4882 6177 4657"  # a chain of four runs: no more than its runs
    assert guard_weight([card], LIMIT) == len(card) + 16 * DIGIT_WEIGHT + 4 * RUN_WEIGHT
    chain = "tel 123 / 456 / 789 / 012 / 345 / 678"  # six runs phonenumbers reads as one candidate
    plain = len(chain) + 18 * DIGIT_WEIGHT + 6 * RUN_WEIGHT
    assert guard_weight([chain], LIMIT) == plain + (6 - CHAIN_FREE_RUNS) * CHAIN_RUN_WEIGHT
    wide = chain.translate(str.maketrans("0123456789/", "０１２３４５６７８９／"))  # in any script
    assert guard_weight([wide], LIMIT) == guard_weight([chain], LIMIT)
    apart = "1 2 3 4 a 5 6 7 8"  # a letter ends a candidate: two chains of four
    assert guard_weight([apart], LIMIT) == len(apart) + 8 * DIGIT_WEIGHT + 8 * RUN_WEIGHT


def test_a_lone_surrogate_is_weighed_not_refused() -> None:
    assert guard_weight(["\ud800 1"], LIMIT) == 3 + DIGIT_WEIGHT + RUN_WEIGHT


def test_a_text_already_too_long_is_not_weighed_further() -> None:
    big = "1" * (LIMIT + 1)
    assert guard_weight([big], LIMIT) == len(big)


def test_ordinary_prompts_stay_inline_and_crafted_numbers_do_not() -> None:
    identifiers = ("我的手机是13812345678，邮箱 li.lei@example.com。Please call +44 20 7946 0958 tomorrow about "
                   "the invoice for order 2024-11-27, and send the draft to the whole team before noon. ")
    prose = identifiers * 2 + "Then we review the plan together and ship it. 然后我们一起评审计划。" * 10  # ~1 KB
    assert guard_weight([prose], LIMIT) <= LIMIT
    numbers = "".join(f"+{1_234_567 + 7_919 * i} " for i in range(455))  # ~4 KB: ~120 ms inline
    assert len(numbers) <= LIMIT < guard_weight([numbers], LIMIT)


@pytest.mark.parametrize("row", [
    "tel " + " / ".join(f"{n:03d}" for n in range(0, 900, 13)),  # 240 characters: ~60 ms inline
    "电话" + " / ".join(str(n % 10) for n in range(80)),
    "phone: " + " ".join(f"{n:02d}" for n in range(60)),
    "".join(f"电话{n % 10}/{n % 7}/{n % 3}/{n % 9}/{n % 5}/{n % 4}/{n % 8}/{n % 6}/{n % 2}/1 " for n in range(16)),
])
def test_rows_of_short_digit_groups_are_too_heavy_to_guard_inline(row: str) -> None:
    # Each a candidate of many groups that phonenumbers reads whole, then group by group, in
    # every region: 25-61 ms for a few hundred characters, as ordinary prose costs for 100 KB.
    assert len(row) <= LIMIT < guard_weight([row], LIMIT)


def test_identifiers_in_chains_of_four_weigh_no_more_than_their_runs() -> None:
    # What real text chains: card numbers in groups of four, IPv4 addresses, dates with times.
    text = "卡号 6228 4882 6177 4657，服务器 172.214.107.86，时间 2024-11-27 10:30:00。Call +44 20 7946 0958."
    digits, runs = len(re.findall(r"[0-9]", text)), len(re.findall(r"[0-9]+", text))
    assert guard_weight([text], LIMIT) == len(text) + DIGIT_WEIGHT * digits + RUN_WEIGHT * runs + PLUS_WEIGHT


@pytest.mark.parametrize("row", [
    "机(+1547 / 23" * 20,  # read apart at each `+`, each piece in every region: 31 ms (review)
    "tel +4 - 420; " * 23,
    "机(﹢1547 / 23" * 20,  # what the light view folds to a plus sign counts too (review)
    "机(⁺1547 / 23" * 20,
])
def test_each_plus_sign_weighs_and_rows_of_them_go_to_the_pool(row: str) -> None:
    assert len(row) < 400 and guard_weight([row], LIMIT) > LIMIT
    assert guard_weight(["call +44 20 7946 0958"], LIMIT) == 21 + 12 * DIGIT_WEIGHT + 4 * RUN_WEIGHT + PLUS_WEIGHT


def test_symbols_that_read_as_letters_weigh() -> None:
    # Keyword matching reads the text again for each kind of them (review: 4 KB cost 40-130 ms).
    row = ("网络赌博🇦🅾ⓐ™" * 600)[:4027]
    assert guard_weight([row], LIMIT) > LIMIT
    # One run of five kinds before 3,900 characters of terms: the whole text is read 31 times.
    assert guard_weight(["ⓐ🇦🅾™①" + "网络赌博" * 974], LIMIT) > LIMIT
    text = "best casino™ in town"  # one kind: read once more
    assert guard_weight([text], LIMIT) == len(text) + SYMBOL_WEIGHT + len(text.encode())


def test_weighing_stops_at_the_limit() -> None:
    # Review: 4 KB of `① ` took 4.1 ms to weigh, a Python step per run, while the loop waits.
    # Weighing stops once past the limit: counted in full, 2,048 runs would weigh ~280,000.
    assert LIMIT < guard_weight(["① " * 2048], LIMIT) < 5 * LIMIT


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
