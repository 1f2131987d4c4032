"""Prefilters derived from recognizers' own regexes: look-arounds cut out exactly, RE2 failures
reported, and every derived prefilter a superset of what its recognizer can find."""

from __future__ import annotations

import re

import pytest
import re2
import regex  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer import PatternRecognizer

from policies.detectors import cn_ids
from policies.detectors.pii import FORMAT_CHARS_ALLOWANCE
from policies.detectors.pii_slots import ASCII_FLAGS, RecognizerSlot, default_slots
from policies.detectors.prefilters import looks_ahead, regex_prefilter, union_prefilter, without_lookarounds
from tests.policies.test_recognizer_spans import identifier_texts

# --- without_lookarounds --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("abc", "abc"),
        ("(?<![0-9A-Za-z])abc(?![0-9A-Za-z])", "abc"),
        ("(?<![0-9][.])x(?![.][0-9])", "x"),
        ("a(?=b(?!c)d)e", "ae"),  # nested
        ("(?<=(?:x|(?<!y)z))w", "w"),
        ("a(?=(b)(c))d", "ad"),  # groups inside
        ("a(?![)])b", "ab"),  # ")" inside a class inside the look-ahead
        ("a(?=[^]])b", "ab"),  # "]" first in a negated class is a literal
        ("a(?=[]x])b", "ab"),  # "]" first in a class is a literal
        (r"a(?![\]x)])b", "ab"),  # an escaped "]" in a class
        ("(?<![)(])x", "x"),
        (r"\(a(?=\))\)", r"\(a\)"),  # escaped parentheses, inside and outside
        (r"a(?!\()b", "ab"),
        (r"\(?=a", r"\(?=a"),  # an escaped "(" followed by "?=": no look-ahead here
        ("[(?=]a", "[(?=]a"),  # "(?=" inside a class is three characters
        ("[(?<!]a", "[(?<!]a"),
        ("(?:ab)+(?=c)", "(?:ab)+"),  # non-capturing groups are kept
        ("(a|b)(?!c)", "(a|b)"),
        ("(?i:a(?=b))", "(?i:a)"),  # flag groups are kept, their look-arounds cut
        ("(?-i:[A-Z](?<![I]))", "(?-i:[A-Z])"),
        ("(?i)x(?=y)", "(?i)x"),
        (r"\b(?!1\d{12}(?!\d))(4\d{3})\b", r"\b(4\d{3})\b"),  # Presidio's credit card, abridged
        # Counted repeats: short ones kept, long ones open-ended (RE2's DFA grows with them).
        ("a{2}b{1,16}c{3,}", "a{2}b{1,16}c{3,}"),
        ("[0-9]{16,19}", "[0-9]{16,}"),
        ("[a-z.]{1,253}(?=x{1,99})", "[a-z.]{1,}"),
        (r"\{1,99\}[{1,99}]", r"\{1,99\}[{1,99}]"),  # escaped braces, braces in a class
    ],
)
def test_without_lookarounds(pattern: str, expected: str) -> None:
    assert without_lookarounds(pattern) == expected


@pytest.mark.parametrize("pattern", ["a(?=b", "(?<!x[)]", "a[bc", "(?=[a)"])
def test_without_lookarounds_rejects_unbalanced_patterns(pattern: str) -> None:
    with pytest.raises(ValueError):
        without_lookarounds(pattern)


# --- looks_ahead ----------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", [r"a(?=b)", r"a(?!\.\d)", r"\bab", r"a\B", r"ab$", r"ab\Z", r"\mab\M"])
def test_looks_ahead_finds_assertions_on_what_follows(pattern: str) -> None:
    assert looks_ahead(["plain", pattern])


@pytest.mark.parametrize("pattern", [r"(?<!x)ab", r"(?<=\d)ab", r"[$\b]x", r"a\\b", r"\$5", r"(?i)ab[^\s]*"])
def test_looks_ahead_ignores_look_behinds_classes_and_escaped_characters(pattern: str) -> None:
    assert not looks_ahead([pattern])


# --- union_prefilter ------------------------------------------------------------------------


def test_union_prefilter_joins_the_patterns() -> None:
    assert union_prefilter(["a(?=b)", "c"], ignore_case=False) == "(?:a)|(?:c)"
    assert union_prefilter(["(?<!x)a", "c"], ignore_case=True) == "(?i:(?:a)|(?:c))"


@pytest.mark.parametrize("patterns", [[r"(a)\1"], ["ok", r"(?P<x>a)(?P=x)"], ["a++"]])
def test_union_prefilter_raises_value_error_when_re2_cannot_compile_it(patterns: list[str]) -> None:
    with pytest.raises(ValueError, match="RE2 cannot compile"):
        union_prefilter(patterns, ignore_case=False)


# --- every derived prefilter is a superset of its recognizer --------------------------------

SLOTS = {slot.entity: slot for slot in default_slots()}


def is_derived(slot: RecognizerSlot) -> bool:
    """Whether the slot's prefilter is derived from its recognizer's own patterns: read with
    the flags its `analyze` uses (`regex_prefilter`), or case-insensitively (`cn_ids`)."""
    if not isinstance(slot.recognizer, PatternRecognizer):
        return False
    regexes = [pattern.regex for pattern in slot.recognizer.patterns]
    own = type(slot.recognizer).analyze is not PatternRecognizer.analyze
    flags = slot.recognizer.global_regex_flags if own else ASCII_FLAGS
    return slot.prefilter in (union_prefilter(regexes, ignore_case=True), regex_prefilter(regexes, flags))


# Prefilters derived from the recognizers' own patterns (the rest are written by hand).
DERIVED = [entity for entity, slot in SLOTS.items() if is_derived(slot)]


def recognizer_patterns(entity: str) -> list[regex.Pattern]:
    """The recognizer's regexes, compiled as its `analyze` compiles them for this slot (an
    `analyze` of its own, as Presidio's IBAN recognizer has, keeps its own flags)."""
    slot = SLOTS[entity]
    assert isinstance(slot.recognizer, PatternRecognizer)
    own = type(slot.recognizer).analyze is not PatternRecognizer.analyze
    flags = slot.recognizer.global_regex_flags if own else slot.regex_flags or slot.recognizer.global_regex_flags
    return [regex.compile(pattern.regex, flags=flags) for pattern in slot.recognizer.patterns]


# Every pattern recognizer the detector runs on prefilter windows, hand-written prefilters too.
WINDOWED = [e for e, slot in SLOTS.items() if isinstance(slot.recognizer, PatternRecognizer) and slot.prefilter]
PATTERNS = {entity: recognizer_patterns(entity) for entity in WINDOWED}
PREFILTERS = {entity: re2.compile(SLOTS[entity].prefilter) for entity in WINDOWED}


def uncovered(entity: str, text: str, windows: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """Recognizer matches whose start lies in no window, or that end past what the detector
    searches after a window (`max_chars` more); by default the windows are the prefilter's
    matches, their end included (a derived prefilter's guarantee: see `prefilters.py`)."""
    if windows is None:
        windows = [(m.start(), m.end() + 1) for m in PREFILTERS[entity].finditer(text)]
    slot = SLOTS[entity]
    reach = slot.max_chars + FORMAT_CHARS_ALLOWANCE
    missed = []
    for compiled in PATTERNS[entity]:
        for match in compiled.finditer(text):
            start, end = match.span()
            if start < end and not any(low <= start < high and end <= high + reach for low, high in windows):
                missed.append((start, end))
    return missed


def detector_windows(entity: str, text: str) -> list[tuple[int, int]]:
    """Where `PiiDetector` looks for findings to start: prefilter matches widened by the
    slot's `margin` (0 for derived prefilters, 4 characters otherwise), their end included,
    clipped, overlapping ones merged."""
    margin, windows = SLOTS[entity].margin, []
    for match in PREFILTERS[entity].finditer(text):
        start, end = max(0, match.start() - margin), min(len(text), match.end() + margin + 1)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], end))
        else:
            windows.append((start, end))
    return windows


def test_derived_prefilters_are_the_recognizers_own_patterns() -> None:
    assert set(DERIVED) == {slot.entity for slot in SLOTS.values() if slot.margin == 0}
    assert set(DERIVED) == set(SLOTS) - {"PHONE_NUMBER"}
    assert {entity: SLOTS[entity].prefilter for entity in cn_ids.ENTITIES} == cn_ids.PREFILTERS


# Case folding beyond ASCII: KELVIN SIGN and LONG S fold to k and s in both engines.
_ODD = "\u212a\u017f\u0131\u0130"
_URL_PIECES = ("www.", "https://", "http://", ".com", ".cn", "/a?b=1", "'", '"', "..", "a", "x-y")
odd_texts = st.lists(
    st.one_of(
        identifier_texts,
        st.text(alphabet=st.sampled_from(_ODD + "Kks1 -"), max_size=4),
        st.lists(st.sampled_from(_URL_PIECES), max_size=6).map("".join),
    ),
    max_size=3,
).map("".join)


@given(odd_texts)
@settings(max_examples=300, deadline=None)
def test_every_recognizer_match_lies_in_a_widened_prefilter_match(text: str) -> None:
    for entity in DERIVED:
        assert uncovered(entity, text) == [], entity


@given(odd_texts)
@settings(max_examples=200, deadline=None)
def test_the_detectors_windows_hold_every_recognizer_match(text: str) -> None:
    for entity in WINDOWED:
        assert uncovered(entity, text, detector_windows(entity, text)) == [], entity


IBAN = "GB82WEST12345698765432"


@pytest.mark.parametrize(
    "text",
    [
        "li.lei@example.com a@b.cn",
        "192.168.10.20 10.0.0.1 fe80::1 ::1",
        "4111 1111 1111 1111 5500 0000 0000 0004",
        "536-90-4399 078-05-1120",
        "example.com https://example.org/a?b=1 www.example.net",
        "1BoatSLRHtKNngkdXEeobR76b53LETtpyT 1BoatSLRHtKNngkdXEeobR76b53LETtpyT",
        f"{IBAN} {IBAN}",  # the IBAN prefilter's `[A-Za-z0-9 ]{4,30}` runs on into the second
    ],
)
def test_the_detectors_windows_hold_identifiers_written_one_after_another(text: str) -> None:
    for entity in WINDOWED:
        assert uncovered(entity, text, detector_windows(entity, text)) == [], entity


@pytest.mark.parametrize("entity", DERIVED)
def test_prefilter_holds_the_recognizers_matches_in_the_corpus(entity: str) -> None:
    from tests.policies.test_recognizer_spans import CORPUS

    found = 0
    for text in CORPUS:
        assert uncovered(entity, text) == [], text
        assert uncovered(entity, text, detector_windows(entity, text)) == [], text
        found += sum(1 for compiled in PATTERNS[entity] for _ in compiled.finditer(text))
    assert found, f"the corpus never exercises {entity}"


STOPPED = [entity for entity, slot in SLOTS.items() if slot.stop]


@given(odd_texts)
@settings(max_examples=300, deadline=None)
def test_no_recognizer_match_holds_a_stop_character(text: str) -> None:
    """A slot's `stop` class is what lets the detector end a search early: it must be a
    character none of the recognizer's matches contains."""
    for entity in STOPPED:
        stop = re.compile(SLOTS[entity].stop or "")
        for compiled in PATTERNS[entity]:
            for match in compiled.finditer(text):
                assert not stop.search(match.group()), (entity, match.group())


def test_stop_characters_hold_in_the_corpus() -> None:
    from tests.policies.test_recognizer_spans import CORPUS

    assert set(STOPPED) == {"EMAIL_ADDRESS", "IP_ADDRESS", "URL", "CRYPTO"}
    for entity in STOPPED:
        stop = re.compile(SLOTS[entity].stop or "")
        for text in [*CORPUS, "mail a.b+c@x-y.example.org", "ip fe80::1%eth0/64 and ::ffff:10.0.0.1/96"]:
            for compiled in PATTERNS[entity]:
                for match in compiled.finditer(text):
                    assert not stop.search(match.group()), (entity, match.group())
