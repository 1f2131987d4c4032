"""`ContextLexicon`: listed words found in a window of the text, in either Chinese script."""

from __future__ import annotations

import pytest

from policies.detectors.context_words import ContextLexicon

WORDS = ContextLexicon(["护照", "身份证", "Passport", "tel"])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("我的护照号码", "护照"),
        ("我的護照號碼", "护照"),  # Traditional
        ("香港身份證", "身份证"),
        ("PASSPORT no.", "passport"),  # any case, reported as listed (lower-cased)
        ("hotel", "tel"),  # a substring: whole-word checks are the caller's
        ("电视", None),
        ("", None),
    ],
)
def test_find_reports_the_listed_word(text: str, found: str | None) -> None:
    assert WORDS.find(text, 0, len(text)) == found


def test_find_looks_inside_the_window_only() -> None:
    text = "护照 E12345678 身份证"
    assert WORDS.find(text, 2, 13) is None
    assert WORDS.find(text, 0, 2) == "护照"
    assert WORDS.find(text, 0, 1) is None  # a word cut by the window is not there
    assert WORDS.find(text, 13, 99) == "身份证"
    assert WORDS.find(text, 14, 99) is None


def test_an_empty_lexicon_finds_nothing() -> None:
    empty = ContextLexicon([" ", ""])
    assert empty.words == ()
    assert empty.find("护照", 0, 2) is None


ELSEWHERE = ContextLexicon(["号码", "电话"], phrases_about_else=["订单号码", "发票号码"])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("我的号码是", "号码"),
        ("订单号码", None),  # the name of another number
        ("訂單號碼", None),  # in Traditional too
        ("订单号码，电话", "电话"),  # a later word still counts
        ("电话号码", "电话"),
        ("发票号码和号码", "号码"),
    ],
)
def test_a_word_ending_a_phrase_about_something_else_does_not_count(text: str, found: str | None) -> None:
    assert ELSEWHERE.find(text, 0, len(text)) == found


def test_a_phrase_begun_before_the_window_still_voids_its_word() -> None:
    text = "订单号码：" + "x" * 20
    word_start = text.index("号码")
    assert ELSEWHERE.find(text, word_start, len(text)) is None
    assert ContextLexicon(["号码"]).find(text, word_start, len(text)) == "号码"


def test_ends_are_every_place_a_word_may_be_found() -> None:
    """A superset of `find`: every listed word that ends in the window, by where it ends, in
    either script, those voided by a phrase about something else included."""
    text = "护照 E1 護照 tel 身份证"
    assert WORDS.ends(text, 0, len(text)) == [2, 8, 12, 16]
    assert WORDS.ends(text, 1, len(text)) == [8, 12, 16]  # a word cut by the window is not there
    assert WORDS.ends(text, 0, 0) == [] and ContextLexicon([]).ends(text, 0, 9) == []
    voiding = ContextLexicon(["号码"], ["订单号码"])
    assert voiding.find("订单号码", 0, 4) is None and voiding.ends("订单号码", 0, 4) == [4]


def test_positions_do_not_shift_after_a_dotted_capital_i() -> None:
    """`"İ".lower()` is two characters: the words found after one still end where they do."""
    assert WORDS.ends("İİİ tel", 0, 7) == [7]
    assert WORDS.find("İİİİ护照", 5, 6) is None  # 护照 starts before the window
    assert WORDS.find("İİİİ护照", 4, 6) == "护照"
