"""Lexicon lines handed out in key order, and automata built that way."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.detectors import key_order
from policies.detectors.key_order import KeyedLines
from policies.detectors.keywords import KeywordDetector
from policies.normalize import fold
from policies.taxonomy import CATEGORIES


def _lines(keys: list[str]) -> KeyedLines:
    lines = KeyedLines()
    for number, key in enumerate(keys, start=1):
        lines.append(key, "A.1.a" if number % 2 else None, number % 3, number, number % 5 == 0)
    return lines


@settings(max_examples=200)
@given(st.lists(st.text(st.sampled_from("ab中文é\U0001f600"), min_size=1, max_size=7), max_size=40))
def test_lines_come_sorted_by_utf8_and_stably(keys: list[str]) -> None:
    expected = sorted(range(len(keys)), key=lambda i: keys[i].encode("utf-8"))  # stable
    for at_once in (key_order.SORTED_AT_ONCE, 1, 3):  # big buckets are split by their next bytes
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(key_order, "SORTED_AT_ONCE", at_once)
            out = list(_lines(keys).in_key_order())
        assert [line[3] - 1 for line in out] == expected
        for key, category, origin, number, apostrophe in out:  # every field is the line's own
            assert key == keys[number - 1]
            assert (category, origin, apostrophe) == ("A.1.a" if number % 2 else None, number % 3, number % 5 == 0)


def test_top_prefixes_are_the_first_three_levels_breadth_first() -> None:
    lines = _lines(["abcd", "ab", "b", "中国", "abx"])
    assert lines.top_prefixes() == [
        "a", "b", "\xe4",
        "ab", "\xe4\xb8",
        "abc", "abx", "\xe4\xb8\xad",
    ]


def test_a_category_is_kept_once_however_many_lines_have_it() -> None:
    lines = KeyedLines()
    for number in range(3):
        lines.append(f"k{number}", "".join(["A.1.", "a"]), 1, number, False)  # equal strings, not one object
    categories = [category for _, category, *_ in lines.in_key_order()]
    assert categories[0] is categories[1] is categories[2]


def test_prefixes_allocated_first_are_not_keys(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    path.write_text("abcdef\tA.1.a\nab\tA.2.c\n中华人民\tA.1.b\n", encoding="utf-8")
    detector = KeywordDetector.from_lexicons("kw", [(path, None)], CATEGORIES)
    assert detector.term_count == 3
    symbols = "中华人民".encode().decode("latin-1")  # the automaton's keys are UTF-8 bytes
    assert sorted(detector.keys_by_category().items()) == [
        ("A.1.a", {"abcdef"}), ("A.1.b", {symbols}), ("A.2.c", {"ab"})]
    assert detector.categories_of("abc") is None and detector.categories_of("中") is None
    assert detector.categories_of("ab") == ("A.2.c",)
    assert [(f.category, f.start, f.end) for f in detector.detect("abc 中 ab abcdef 中华")] == [
        ("A.2.c", 6, 8), ("A.1.a", 9, 15)]


def test_the_order_of_the_lines_changes_nothing(tmp_path: Path) -> None:
    # Lines that fold to one key share its category (otherwise the first line wins, by design).
    words = ["赌博", "赌", "網絡賭博", "网络赌博", "bad word", "badword", "bad", "won't stop", "wont stop", "sex",
             "s.e.x", "中"]
    rows = [f"{word}\t{CATEGORIES_BY_LENGTH[len(fold(word)) % 3]}\n" for word in words]
    other = tmp_path / "other.txt"
    other.write_text("赌博\nsex\n卖淫\n", encoding="utf-8")
    text = "a bad word, 网络赌博 and won't stop: s e x; wont stop 卖淫"
    built = []
    for seed in range(4):
        random.Random(seed).shuffle(rows)
        path = tmp_path / f"words-{seed}.txt"
        path.write_text("".join(rows), encoding="utf-8")
        detector = KeywordDetector.from_lexicons("kw", [(path, None), (other, "A.5.a")], CATEGORIES)
        keys = {key for group in detector.keys_by_category().values() for key in group}
        built.append((
            sorted((key, detector.categories_of(key), detector.has_apostrophe(key)) for key in keys),
            [(f.category, f.start, f.end) for f in detector.detect(text)],
        ))
    assert all(entry == built[0] for entry in built)
    assert len(built[0][1]) >= 6


CATEGORIES_BY_LENGTH = ("A.1.a", "A.2.c", "A.3.b")
