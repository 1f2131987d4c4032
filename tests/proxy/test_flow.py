"""Where a text is guarded: inline, or on the guard's thread pool (`Flow.run`)."""

from __future__ import annotations

from proxy.flow import DIGIT_WEIGHT, guard_weight
from proxy.state import Settings


def test_prose_weighs_its_characters() -> None:
    assert guard_weight("hello, 世界") == len("hello, 世界")
    assert guard_weight("hello, 世界".encode()) == len("hello, 世界".encode())  # an answer's JSON body


def test_digits_weigh_more_full_width_ones_too() -> None:
    assert guard_weight("call 13812345678") == 16 + 11 * DIGIT_WEIGHT
    assert guard_weight("１３８") == 3 + 3 * DIGIT_WEIGHT  # the guard reads them as digits
    assert guard_weight(b'{"n": 42}') == 9 + 2 * DIGIT_WEIGHT


def test_a_lone_surrogate_is_weighed_not_refused() -> None:
    assert guard_weight("\ud800 1") == 3 + DIGIT_WEIGHT


def test_ordinary_prompts_stay_inline_and_crafted_numbers_do_not() -> None:
    limit = Settings.__dataclass_fields__["guard_inline_chars"].default
    prose = ("我的手机是13812345678，邮箱 li.lei@example.com。Please call +44 20 7946 0958 tomorrow about "
             "the invoice for order 2024-11-27, and send the draft to the whole team before noon. ") * 6  # 1 KB
    assert guard_weight(prose) <= limit
    numbers = "".join(f"+{1_234_567 + 7_919 * i} " for i in range(455))  # ~4 KB: ~120 ms inline
    assert len(numbers) <= limit < guard_weight(numbers)
