"""Where a text is guarded: inline, or on the guard's thread pool (`Flow.run`)."""

from __future__ import annotations

import pytest

from proxy.flow import DIGIT_WEIGHT, SLOT_WEIGHT, guard_weight
from proxy.state import Settings

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
