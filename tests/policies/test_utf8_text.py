"""`Utf8Text`: RE2 runs on the bytes encoded once; spans come back in characters, the same as
the `re2` wrapper's own `finditer` on the `str`, through the fast path and the fallback."""

from __future__ import annotations

from typing import Any

import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.detectors import utf8_text
from policies.detectors.utf8_text import Utf8Text, byte_spans

# ASCII, 2-byte (é), 3-byte (CJK, full-width) and 4-byte (emoji, math bold) characters.
_ALPHABET = "ab x1\n" + "é" + "中文１" + "\U0001f600\U0001d7cf"
texts = st.text(alphabet=st.sampled_from(_ALPHABET), max_size=24)

PATTERNS = [
    "a", "中", "\U0001f600", "[a-z]+", "[0-9]+", ".", "..", "[^a]", "中+|\U0001f600", "[\U0001f600中]+",
    r"\d", r"\w+", r"\s", "a[^x]b",
    # ones that can match the empty string
    "", "(?:)", "a*", "x?", "(?:ab)*", "\U0001f600*", "[中文]*", r"\b", "$", "^", "(?m)^", "(?m)$",
    r"a|\b", r"\b|a",
]  # fmt: skip
# Not `\B`: it also holds between the bytes of one character, where the wrapper's own
# offsets go wrong (`\B` on "1é" gives (3, 3) in a 2-character text); see the cases below.
COMPILED = {pattern: re2.compile(pattern) for pattern in PATTERNS}
patterns = st.sampled_from(PATTERNS)


def reference(pattern: re2._Regexp, text: str) -> list[tuple[int, int]]:
    """The wrapper's `finditer` on the `str`, each match once.

    The wrapper yields an empty match found ahead of its search position twice (`\\b` on
    "  ab" gives (2, 2) twice): it searches again from the match, finds it again, and only
    then steps one character. `Utf8Text` reports it once, as Python's `re` does.
    """
    spans: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        span = match.span()
        if not (spans and span == spans[-1] and span[0] == span[1]):
            spans.append(span)
    return spans


class WithoutRegexp:
    """A compiled pattern as a future wrapper might give it: the public methods (`search`,
    `finditer` ...), but no `_regexp` to ask for one span at a time."""

    def __init__(self, pattern: re2._Regexp) -> None:
        self._pattern = pattern

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._pattern, name)


@given(texts, patterns)
@settings(max_examples=500, deadline=None)
def test_spans_are_the_wrappers_finditer_on_the_str(text: str, pattern: str) -> None:
    compiled = COMPILED[pattern]
    assert Utf8Text(text).spans(compiled) == reference(compiled, text)


@given(texts, patterns)
@settings(max_examples=300, deadline=None)
def test_fallback_without_regexp_gives_the_same_spans(text: str, pattern: str) -> None:
    compiled = COMPILED[pattern]
    assert Utf8Text(text).spans(WithoutRegexp(compiled)) == reference(compiled, text)  # type: ignore[arg-type]


@given(texts, patterns)
@settings(max_examples=300, deadline=None)
def test_fallback_without_anchor_enum_gives_the_same_spans(text: str, pattern: str) -> None:
    compiled = COMPILED[pattern]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(utf8_text, "_UNANCHORED", None)
        assert Utf8Text(text).spans(compiled) == reference(compiled, text)


@pytest.mark.parametrize(
    ("pattern", "text", "spans"),
    [
        ("", "é", [(0, 0), (1, 1)]),  # the step past an empty match lands inside "é" (C3 A9)
        (r"\b", " a", [(1, 1), (2, 2)]),  # an empty match ahead of the search position: once
    ],
)
def test_fallback_empty_matches(pattern: str, text: str, spans: list[tuple[int, int]]) -> None:
    """The smallest inputs on which the fallback (`finditer` on the bytes) must still agree."""
    compiled = re2.compile(pattern)
    assert Utf8Text(text).spans(compiled) == spans
    assert Utf8Text(text).spans(WithoutRegexp(compiled)) == spans  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pattern", "text", "spans"),
    [
        ("[0-9]+", "手机13812345678，座机010", [(2, 13), (16, 19)]),
        ("b", "\U0001f600b\U0001f600b", [(1, 2), (3, 4)]),
        ("", "中\U0001f600", [(0, 0), (1, 1), (2, 2)]),
        ("x", "", []),
        ("", "", [(0, 0)]),
        (r"\B", "ab", [(1, 1)]),
        # `\B` also holds between the bytes of one character ("é" is C3 A9): only the
        # positions between characters are positions in the text.
        (r"\B", "1é", [(2, 2)]),
    ],
)
def test_spans_in_characters(pattern: str, text: str, spans: list[tuple[int, int]]) -> None:
    assert Utf8Text(text).spans(re2.compile(pattern)) == spans


@given(texts, patterns)
@settings(max_examples=200, deadline=None)
def test_byte_spans_are_utf8_offsets_of_the_character_spans(text: str, pattern: str) -> None:
    compiled = COMPILED[pattern]
    expected = [(len(text[:s].encode()), len(text[:e].encode())) for s, e in reference(compiled, text)]
    assert byte_spans(compiled, text.encode("utf-8")) == expected


def test_encoded_once() -> None:
    source = Utf8Text("中a")
    assert (source.text, source.data, source.ascii) == ("中a", "中a".encode(), False)
    assert Utf8Text("plain").ascii


@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "中\ud83d"])
def test_a_lone_surrogate_raises_at_construction(text: str) -> None:
    with pytest.raises(UnicodeEncodeError):
        Utf8Text(text)
