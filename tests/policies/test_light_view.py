"""The light fold (`light_view`): width, format characters and marks only, with exact offsets back."""

from __future__ import annotations

import pytest
import re2
from hypothesis import given
from hypothesis import strategies as st

from policies.light_view import LIGHT_KEPT, kept_tail_start, light_fold, light_fold_class, light_view

# (original, view, whether positions are unchanged)
CASES: list[tuple[str, str, bool]] = [
    ("plain ASCII, Case Kept: a-b.c@d", "plain ASCII, Case Kept: a-b.c@d", True),
    ("中文，不变！（括号）？；：……", "中文，不变！（括号）？；：……", True),  # sentence punctuation kept
    ("１３８－１２３４", "138-1234", True),  # full-width, one for one
    ("ＡＢｃ＠ｅｘ．ｃｏｍ", "ABc@ex.com", True),  # no case folding
    ("a\u3000b\u00a0c", "a b c", True),  # ideographic and no-break spaces become spaces
    ("138\u200b1234", "1381234", False),  # zero-width deleted
    ("a\u202eb\u202cc\u200ed\u2066e\u2069", "abcde", False),  # bidi controls deleted
    ("soft\u00adhyphen\ufeff", "softhyphen", False),
    ("138\ufe0f12\ufe0e34", "1381234", False),  # variation selectors deleted
    ("1\u03013\u034f8\u20dd", "138", False),  # combining marks, grapheme joiner, enclosing mark
    ("13\u31648\uffa0", "138", False),  # Hangul fillers
    ("13\u20658\ufff01\U000e00802", "13812", False),  # unassigned, default-ignorable (sixth review)
    ("㎏①", "kg1", False),  # expansions
    ("\U0001d7cf\U0001d7d1", "13", True),  # math bold digits (astral, one for one)
    ("x\ud800y", "x\ufffdy", True),  # lone surrogate
    ("繁體字 Ünïcödé", "繁體字 Ünïcödé", True),  # no Traditional -> Simplified, accents kept
    ("", "", True),
]


@pytest.mark.parametrize(("original", "view", "identity"), CASES)
def test_light_view(original: str, view: str, identity: bool) -> None:
    result = light_view(original)
    assert result.text == view
    assert result.identity is identity
    assert light_fold(original) == view


def test_spans_map_back_over_deleted_characters() -> None:
    view = light_view("手机138\u200b1234\u200b5678。")
    assert view.text == "手机13812345678。"
    assert view.original_span(2, 13) == (2, 15)  # the whole number, zero-width spaces included
    assert view.original_span(0, 2) == (0, 2)
    assert view.original_span(13, 14) == (15, 16)


def test_spans_inside_an_expansion_cover_the_whole_character() -> None:
    view = light_view("x㎏y")
    assert view.text == "xkgy"
    assert view.original_span(1, 2) == (1, 2)  # `k` alone comes from `㎏`
    assert view.original_span(2, 4) == (1, 3)


FORMAT_CHARACTERS = ["\u200b", "\u200e", "\u202e", "\u00ad", "\ufeff", "\u2066"]
# Plain characters, and ones the fold replaces, deletes or expands.
ALPHABET = st.sampled_from(
    [*"ab1 -.@中，（）…", "１", "＠", "㎏", "①", "ﬁ", "\u3000", "\U0001d7cf", *FORMAT_CHARACTERS]
)


@given(st.lists(ALPHABET, max_size=40))
def test_view_is_the_per_character_fold_and_maps_back(chars: list[str]) -> None:
    text = "".join(chars)
    view = light_view(text)
    folded = [light_fold(c) for c in chars]
    assert view.text == "".join(folded)
    expected_origin = [i for i, out in enumerate(folded) for _ in out]
    assert [view.original_span(i, i + 1)[0] for i in range(len(view.text))] == expected_origin
    assert light_fold(view.text) == view.text  # idempotent


def test_the_re2_class_matches_exactly_the_changed_characters() -> None:
    changed = re2.compile(light_fold_class())
    for cp in [*range(0x20, 0x3100), *range(0xFE00, 0x10000), *range(0x1D400, 0x1D800), *range(0xE0000, 0xE0080)]:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        char = chr(cp)
        assert (changed.search(char) is not None) == (light_fold(char) != char), hex(cp)


def test_kept_punctuation_is_what_chinese_sentences_use() -> None:
    assert {light_fold(c) for c in LIGHT_KEPT} == set(LIGHT_KEPT)


@pytest.mark.parametrize(
    ("text", "count", "start"),
    [("abc", 2, 1), ("ab", 5, 0), ("a\u0301b\u0301c", 2, 2), ("护照 ✈\ufe0f号", 3, 2), ("x\u200b\u200b\u200by", 2, 0), ("abc", 0, 3)],
)
def test_kept_tail_start_counts_what_the_view_keeps(text: str, count: int, start: int) -> None:
    assert kept_tail_start(text, count) == start
    if start:
        assert len(light_fold(text[start:])) == count
