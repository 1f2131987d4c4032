"""The light fold (`light_view`): width, format characters and marks only, with exact offsets back."""

from __future__ import annotations

import re
import unicodedata

import pytest
import re2
from hypothesis import given
from hypothesis import strategies as st

from policies.light_view import (
    LIGHT_KEPT,
    NUMERAL_DIGITS,
    kept_tail_start,
    light_fold,
    light_fold_class,
    light_view,
    numeral_gate,
    numerals_as_digits,
    re2_class,
)

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
    # Chinese numerals: digits in a run of seven or more digits and numerals, one for one
    ("手机一三八一二三四五六七八。", "手机13812345678。", True),
    ("幺三八 一二三四-五六七八", "138 1234-5678", True),
    ("1三8一2三4", "1381234", True),
    ("壹貳參肆伍陸柒捌玖〇○两", "123456789002", True),
    ("一二三四五六", "一二三四五六", True),  # six: too short
    ("一二三 四五六七", "123 4567", True),
    ("一二三   四五六七", "一二三   四五六七", True),  # three spaces part the runs
    ("一千二百三十四万五千六百", "一千二百三十四万五千六百", True),  # positional, not digit by digit
    ("二〇二四年十一月", "二〇二四年十一月", True),
    ("１三８一二三四", "1381234", True),  # the width fold first, then the run
    ("张三13800138000，13812345678一直", "张三13800138000，13812345678一直", True),  # one numeral: a word
    ("138一二345678", "13812345678", True),  # two: part of the number
    ("㊀㊂㊇㊀㊁㊂㊃", "1381234", True),  # folded to numerals first
    ("一三八\u200b一二三四", "1381234", False),
    # Not a plate's serial, though it has a province and a letter before it: prose like
    # `新GDP一二三季度` (Q1-Q3) would read as one, and `京AB一13800138000` would lose its mobile.
    ("车牌粤B一二三四五", "车牌粤B一二三四五", True),
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


def test_numeral_values_are_unicode_ones() -> None:
    for numeral, digit in NUMERAL_DIGITS.items():
        if numeral not in "○两":  # the two Unicode gives no value
            assert unicodedata.numeric(numeral) == int(digit)
        assert digit in "0123456789" and len(digit) == 1


# Mostly ASCII digits, so runs with one numeral and with two are both common.
NUMERAL_ALPHABET = st.sampled_from([*NUMERAL_DIGITS, *"0123456789" * 8, *"13" * 8, " ", "-", "—", "十", "个", "a",
                                    "X", "。", "１", "㊀"])


@given(st.lists(NUMERAL_ALPHABET, max_size=30))
def test_numerals_become_digits_exactly_in_long_runs(chars: list[str]) -> None:
    """Each maximal run of digits and numerals (up to two spaces or dashes between two of
    them) is written in digits if it holds at least seven of them, two of them numerals, or
    one numeral between digits, or one at an edge, with no letter beyond it, that makes the run a
    resident ID's or a mobile number's shape; everything else, and every position, stays. (`１` and `㊀` fold to `1` and
    `一` first.)"""
    text = "".join(chars)
    view = light_view(text)
    folded = "".join(light_fold(c) for c in chars)  # one character cannot make a run
    assert len(folded) == len(text) and view.identity
    numerals = "".join(NUMERAL_DIGITS)
    expected = list(folded)
    for run in re.finditer(rf"[0-9{numerals}](?:[ \-—]{{0,2}}[0-9{numerals}])*", folded):
        body = [c for c in run.group() if c not in " -—"]
        at = [i for i, c in enumerate(run.group()) if c in NUMERAL_DIGITS]
        after = folded[run.end() : run.end() + 1]
        digits = "".join(NUMERAL_DIGITS.get(c, c) for c in body) + (after if after in ("X", "x") else "")
        whole = re.fullmatch(r"[0-9]{17}[0-9Xx]|1[3-9][0-9]{9}", digits) is not None  # an ID's or mobile's shape
        beyond = folded[run.start() - 1 : run.start()] if at and at[0] == 0 else after
        word = beyond.isalpha() and beyond not in ("X", "x")
        lone = len(at) == 1 and (0 < at[0] < len(run.group()) - 1 or (whole and not word))
        if len(body) >= 7 and (len(at) >= 2 or lone):  # as README says
            for i in range(run.start(), run.end()):
                expected[i] = NUMERAL_DIGITS.get(folded[i], folded[i])
    assert view.text == "".join(expected)


@given(st.lists(NUMERAL_ALPHABET, max_size=30))
def test_the_numeral_gate_fires_wherever_a_run_is_read(chars: list[str]) -> None:
    text = "".join(chars)
    if numerals_as_digits(text) != text:
        assert re2.compile(numeral_gate()).search(text), text


def test_the_numeral_gate_fires_on_every_text_with_a_run() -> None:
    gate = re2.compile(numeral_gate())
    for text in ["一三八一二三四五六七八", "1三8", "1 -一", "壹贰", "1-1一"]:
        assert gate.search(text), text
    for text in ["一个人", "第一名", "1234567", "一千二百", "十一月", "1 - 一"]:
        assert not gate.search(text), text


def test_re2_class_names_exactly_the_code_points_given() -> None:
    assert re2_class([0x63, 0x61, 0x62, 0x7A, 0x61]) == "[\\x{61}-\\x{63}\\x{7a}]"
    digits = re2.compile(re2_class(ord(c) for c in "١٢٣") + "+")
    assert [m.group() for m in digits.finditer("a١٢ 3 ٣")] == ["١٢", "٣"]
