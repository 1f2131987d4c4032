"""Counting characters back from the end of a text, some of them skipped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.char_tails import TailCounter, char_class

SKIPPED = [0x200B, 0x0301, 0xFE0F, 0x1F468]  # zero-width space, a mark, a selector, an emoji
COUNTER = TailCounter(SKIPPED)


def reference(text: str, count: int) -> int:
    """Walk back a character at a time."""
    if count <= 0:
        return len(text)
    seen = 0
    for index in range(len(text) - 1, -1, -1):
        if ord(text[index]) not in SKIPPED:
            seen += 1
            if seen == count:
                return index
    return 0


@given(st.text(alphabet="ab中\u200b\u0301\ufe0f\U0001f468", max_size=40), st.integers(min_value=-1, max_value=45))
def test_start_is_where_count_counted_characters_begin(text: str, count: int) -> None:
    assert COUNTER.start(text, count) == reference(text, count)


def test_a_skipped_ascii_character_is_skipped_in_ascii_text_too() -> None:
    assert TailCounter([ord("-")]).start("a-b--", 2) == 0
    assert TailCounter([ord("-")]).start("xa-b--", 2) == 1


def test_char_class_holds_exactly_the_code_points() -> None:
    import re

    code_points = [0x41, 0x42, 0x43, 0x5D, 0x2D, 0x1F600]
    pattern = re.compile(f"[{char_class(sorted(code_points))}]")
    assert all(pattern.fullmatch(chr(cp)) for cp in code_points)
    assert not any(pattern.fullmatch(c) for c in "D\\^[a")
