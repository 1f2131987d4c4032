"""Span finders give exactly what each recognizer's own `analyze` gives: same spans, same
scores, on whole texts and on windows; `remove_contained` is Presidio's `remove_duplicates`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from policies.detectors import cn_ids
from policies.detectors.cn_ids import MobileRecognizer
from policies.detectors.pii_slots import ASCII_FLAGS, RecognizerSlot, default_slots
from policies.detectors.recognizer_spans import SLICE_CONTEXT, CompiledPatterns, Span, remove_contained, span_finder
from tests.policies.test_cn_ids import LOOK_ALIKES, NEGATIVES, POSITIVES
from tests.policies.test_pii import CARDS, EVERY_KIND

SLOTS = default_slots()
GLOBAL_SLOTS = [slot for slot in SLOTS if slot.entity not in cn_ids.ENTITIES]

CORPUS = [
    *EVERY_KIND, *(text for _, text, _, _ in POSITIVES), *(text for _, text in NEGATIVES), *LOOK_ALIKES,
    *(text for text, _ in CARDS),
]  # fmt: skip

# Generated texts: digits above all, the separators identifiers are written with, letters,
# a few CJK characters, and the context words that move the Chinese recognizers' scores.
_DIGITS = "0123456789"
_CHARS = _DIGITS * 4 + " -.()+（）" * 2 + "abcdeXEGDSPCHMKZ" + "@:/" + "中号京粤港·"
_WORDS = (
    "身份证", "手机", "卡号", "银行卡", "电话", "护照", "车牌", "信用代码", "phone", "card", "tel",
    "passport", "ssn", "mail", ".com", "http://", "+86 ", "0086-", "(0755)",
)  # fmt: skip
# Whole identifiers, so that validation and check digits get exercised, not only the regexes.
_SEEDS = (
    "11010519491231002X", "110105 19491231 002X", "130503670401001", "13800138000", "138-0013-8000",
    "010-12345678", "075587654321", "6222021234567894", "4111 1111 1111 1111", "91350100M000100Y43",
    "E12345678", "C12345678", "H1234567801", "A123456(3)", "D288754（2）", "京A12345", "粤B·D12345",
    "536-90-4399", "li.lei@example.com", "192.168.10.20", "fe80::1", "GB82 WEST 1234 5698 7654 32",
    "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "(212) 555-0198", "example.com/a?b=1", "378282246310005",
    "6932743940999",
)  # fmt: skip

piece = st.one_of(
    st.sampled_from(" ，:：、/"),
    st.text(alphabet=st.sampled_from(_CHARS), min_size=1, max_size=8),
    st.text(alphabet=st.sampled_from(_DIGITS), min_size=1, max_size=20),
    st.sampled_from(_WORDS),
    st.sampled_from(_SEEDS),
    st.sampled_from(_SEEDS),
)
identifier_texts = st.lists(piece, max_size=10).map("".join)


def analyzed(slot: RecognizerSlot, text: str) -> list[Span]:
    """The recognizer's own answer, called as the PII detector would call it without finders."""
    if isinstance(slot.recognizer, PatternRecognizer):
        results = slot.recognizer.analyze(text, [slot.entity], None, slot.regex_flags)
    else:
        results = slot.recognizer.analyze(text, [slot.entity], None)
    return [(r.start, r.end, float(r.score)) for r in results if r.entity_type == slot.entity]


def rounded(spans: list[Span]) -> list[Span]:
    return sorted((start, end, round(score, 9)) for start, end, score in spans)


# Built once: a finder compiles its recognizer's patterns (and an RE2 Set of them).
FINDERS = {slot.entity: span_finder(slot.recognizer, slot.entity, slot.regex_flags) for slot in SLOTS}


def found(slot: RecognizerSlot, text: str, start: int = 0, end: int | None = None) -> list[Span]:
    return FINDERS[slot.entity](text, start, len(text) if end is None else end)


# --- every shipped recognizer, on whole texts -----------------------------------------------


def test_every_slot_is_covered() -> None:
    assert {slot.entity for slot in SLOTS} == {*cn_ids.ENTITIES, *(slot.entity for slot in GLOBAL_SLOTS)}
    assert len(GLOBAL_SLOTS) == 8


@pytest.mark.parametrize("slot", SLOTS, ids=[slot.entity for slot in SLOTS])
def test_finder_gives_what_analyze_gives_on_the_corpus(slot: RecognizerSlot) -> None:
    for text in CORPUS:
        assert rounded(found(slot, text)) == rounded(analyzed(slot, text)), text


def test_the_corpus_exercises_every_slot() -> None:
    """A comparison of empty lists proves nothing: every recognizer finds something here."""
    for slot in SLOTS:
        assert any(analyzed(slot, text) for text in CORPUS), slot.entity


@given(identifier_texts)
@settings(max_examples=300, deadline=None)
def test_finder_gives_what_analyze_gives_on_generated_texts(text: str) -> None:
    for slot in SLOTS:
        assert rounded(found(slot, text)) == rounded(analyzed(slot, text)), slot.entity


def test_shipped_pattern_recognizers_take_the_compiled_path() -> None:
    """Only the IBAN recognizer (its own `analyze`) and the phone matcher (`spans`) do not."""
    compiled = {entity for entity, find in FINDERS.items() if isinstance(find, CompiledPatterns)}
    assert compiled == {slot.entity for slot in SLOTS} - {"IBAN_CODE", "PHONE_NUMBER"}


# --- windows --------------------------------------------------------------------------------

_TOKEN_CHARS = _DIGITS * 3 + "-.()+:@/" + "abcdefXEGKZ" + "中号"
token = st.one_of(st.text(alphabet=st.sampled_from(_TOKEN_CHARS), min_size=1, max_size=12), st.sampled_from(_SEEDS))


@given(st.lists(token, min_size=1, max_size=8), st.data())
@settings(max_examples=100, deadline=None)
def test_window_finds_what_analyze_finds_in_the_window_text(tokens: list[str], data: st.DataObject) -> None:
    """A window finds what the recognizer finds in the window taken as a text of its own. Its
    edges fall between space-separated tokens, so the space just outside each edge reads like
    the edge of a text to every look-behind, look-ahead or `\\b`.

    (Not the whole text's matches inside the window: a scan that starts inside a longer match
    of the whole text, "1000 4111 1111 1111" before a card, reads the rest differently; the
    detector merges windows so that its scans never start there.)"""
    text = " ".join(tokens)
    starts = [sum(len(t) + 1 for t in tokens[:i]) for i in range(len(tokens))]
    first = data.draw(st.integers(0, len(tokens) - 1))
    last = data.draw(st.integers(first, len(tokens) - 1))
    start, end = starts[first], starts[last] + len(tokens[last])
    # Not the phone matcher: phonenumbers reads a run of numbers and spaces as one candidate,
    # so a window cut inside such a run is not one the detector hands it (its windows hold the
    # whole run; test_pii checks the detector against the whole text).
    for slot in [slot for slot in GLOBAL_SLOTS if slot.entity != "PHONE_NUMBER"]:
        expected = [(s + start, e + start, score) for s, e, score in analyzed(slot, text[start:end])]
        assert rounded(found(slot, text, start, end)) == rounded(expected), slot.entity


@pytest.mark.parametrize(
    ("text", "window", "entity", "value"),
    [
        ("mail li.lei@example.com today", (5, 23), "EMAIL_ADDRESS", "li.lei@example.com"),
        ("ip 192.168.10.20 and fe80::1", (21, 28), "IP_ADDRESS", "fe80::1"),
        ("ssn 536-90-4399 or 4111 1111 1111 1111", (19, 38), "CREDIT_CARD", "4111 1111 1111 1111"),
        ("ssn 536-90-4399 or 4111 1111 1111 1111", (4, 15), "US_SSN", "536-90-4399"),
        ("call (212) 555-0198 now", (4, 20), "PHONE_NUMBER", "(212) 555-0198"),
    ],
)
def test_window_offsets_are_offsets_into_the_whole_text(
    text: str, window: tuple[int, int], entity: str, value: str
) -> None:
    (slot,) = [s for s in SLOTS if s.entity == entity]
    spans = [(s, e) for s, e, _ in found(slot, text, *window)]
    assert spans == [(text.index(value), text.index(value) + len(value))]


def test_chinese_finder_reads_context_words_outside_the_window() -> None:
    """The compiled path searches the window in place, so `rescore` sees the words around it
    (the PII detector relies on this: its windows are only `max_chars` wide)."""
    (slot,) = [s for s in SLOTS if s.entity == "CN_MOBILE"]
    text = "手机 13800138000"
    ((start, end, score),) = found(slot, text, 3, len(text))
    assert (text[start:end], score) == ("13800138000", pytest.approx(1.0))
    assert rounded(found(slot, text, 3, len(text))) == rounded(analyzed(slot, text))


# --- remove_contained -----------------------------------------------------------------------

score = st.sampled_from([0.0, 0.05, 0.1, 0.3, 0.4, 0.5, 0.85, 1.0]) | st.floats(0, 1)
span_spec = st.tuples(st.integers(0, 12), st.integers(1, 8), score)


@given(st.lists(span_spec, max_size=12))
@settings(max_examples=400, deadline=None)
def test_remove_contained_is_presidio_remove_duplicates(specs: list[tuple[int, int, float]]) -> None:
    spans = [(start, start + length, value) for start, length, value in specs]
    results = [RecognizerResult("ENTITY", start, end, value) for start, end, value in spans]
    expected = {(r.start, r.end, r.score) for r in EntityRecognizer.remove_duplicates(results)}
    kept = remove_contained(spans)
    assert set(kept) == expected
    assert len(kept) == len(set(kept))


@pytest.mark.parametrize(
    ("spans", "kept"),
    [
        ([], []),
        ([(0, 4, 0.0)], []),
        ([(0, 4, 0.5)], [(0, 4, 0.5)]),
        ([(0, 4, 0.5), (0, 4, 0.5)], [(0, 4, 0.5)]),
        ([(0, 8, 0.5), (2, 4, 0.5)], [(0, 8, 0.5)]),  # inside, equal score: dropped
        ([(0, 8, 0.5), (2, 4, 0.6)], [(0, 8, 0.5), (2, 4, 0.6)]),  # inside, higher score: kept
        ([(0, 8, 0.0), (2, 4, 0.3)], [(2, 4, 0.3)]),  # a zero score contains nothing
        ([(0, 4, 0.5), (4, 8, 0.5)], [(0, 4, 0.5), (4, 8, 0.5)]),  # touching, not contained
        ([(0, 6, 0.5), (3, 9, 0.5)], [(0, 6, 0.5), (3, 9, 0.5)]),  # overlapping, not contained
    ],
)
def test_remove_contained_cases(spans: list[Span], kept: list[Span]) -> None:
    assert sorted(remove_contained(spans)) == kept


# --- fallbacks: recognizers that answer in their own way ------------------------------------


class ShoutRecognizer(PatternRecognizer):
    """A pattern recognizer with an `analyze` of its own, which the finder must call."""

    def __init__(self) -> None:
        super().__init__(supported_entity="SHOUT", patterns=[Pattern("caps", r"[A-Z]{3,}", 0.5)])
        self.calls: list[tuple[str, list[str], Any, int | None]] = []

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        self.calls.append((text, entities, nlp_artifacts, regex_flags))
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        return [RecognizerResult("SHOUT", r.start, r.end, 0.77) for r in results] + [
            RecognizerResult("WHISPER", 0, 1, 1.0)  # another entity: not this finder's
        ]


def test_pattern_recognizer_with_its_own_analyze_is_called() -> None:
    recognizer = ShoutRecognizer()
    find = span_finder(recognizer, "SHOUT", ASCII_FLAGS)
    assert not isinstance(find, CompiledPatterns)
    assert find("ab HELLO cd WORLD", 3, 8) == [(3, 8, 0.77)]
    # It is given the window and up to SLICE_CONTEXT characters before it, for its own
    # boundary checks; what starts before the window is not the finder's.
    assert SLICE_CONTEXT == 2
    assert recognizer.calls == [("b HELLO", ["SHOUT"], None, ASCII_FLAGS)]
    assert find("ABCDEFGHIJKL xy", 9, 15) == []  # the run starts before the window
    assert recognizer.calls[-1][0] == "HIJKL xy"


# A mobile number without a context word (0.6), and one after 手机 (0.6 + 0.4).
FAR_APART = "13800138000" + " " * 20 + "手机13912345678"


class HalvedMobileRecognizer(MobileRecognizer):
    """A Chinese recognizer overriding `analyze` again: more than a `rescore` step."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None, regex_flags: int | None = None
    ) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        for result in results:
            result.score /= 2
        return results


class LowerContextMobileRecognizer(MobileRecognizer):
    """Only `rescore` changes: the compiled path still applies, and must use the override."""

    def rescore(self, text: str, start: int, end: int, score: float) -> float:
        return super().rescore(text, start, end, score) - 0.1


def test_chinese_recognizer_overriding_analyze_again_is_not_compiled() -> None:
    recognizer = HalvedMobileRecognizer()
    find = span_finder(recognizer, "CN_MOBILE", None)
    assert not isinstance(find, CompiledPatterns)
    text = FAR_APART
    assert sorted(find(text, 0, len(text))) == [(0, 11, pytest.approx(0.3)), (33, 44, pytest.approx(0.5))]


def test_chinese_recognizer_overriding_rescore_only_is_compiled_and_agrees() -> None:
    recognizer = LowerContextMobileRecognizer()
    find = span_finder(recognizer, "CN_MOBILE", None)
    assert isinstance(find, CompiledPatterns)
    text = FAR_APART
    expected = [(r.start, r.end, r.score) for r in recognizer.analyze(text, ["CN_MOBILE"], None)]
    assert rounded(find(text, 0, len(text))) == rounded(expected) == [(0, 11, 0.5), (33, 44, 0.9)]


class DigitRunRecognizer(EntityRecognizer):
    """A recognizer answering through `spans`; its `analyze` must not be called."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["DIGITS"])

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        raise AssertionError("a recognizer with spans() is asked through spans()")

    def spans(self, text: str) -> list[Span]:
        return [(m.start(), m.end(), 0.5) for m in re.finditer(r"[0-9]+", text)]


def test_recognizer_with_spans_is_asked_for_spans_of_the_window() -> None:
    find = span_finder(DigitRunRecognizer(), "DIGITS", None)
    assert find("ab 12 cd 345 ef", 3, 12) == [(3, 5, 0.5), (9, 12, 0.5)]
    # The slice runs from SLICE_CONTEXT characters before the window: the run of digits
    # starts before the window, so nothing in the window is a match of its own.
    assert find("0123456789", 2, 4) == []
    assert find("ab 0123456789", 3, 13) == [(3, 13, 0.5)]
    assert find("0123456789", 5, 5) == []


class SecretWordRecognizer(EntityRecognizer):
    """Not a pattern recognizer: called with (text, entities, nlp_artifacts) only."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["SECRET"])
        self.calls: list[tuple[str, list[str], Any]] = []

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any) -> list[RecognizerResult] | None:
        self.calls.append((text, entities, nlp_artifacts))
        at = text.find("secret")
        if at < 0:
            return None
        return [RecognizerResult("SECRET", at, at + 6, 0.9), RecognizerResult("NOT_ASKED", at, at + 6, 1.0)]


def test_other_entity_recognizer_runs_through_analyze() -> None:
    recognizer = SecretWordRecognizer()
    find = span_finder(recognizer, "SECRET", None)
    assert find("a secret b", 1, 10) == [(2, 8, 0.9)]
    assert find("a secret b", 3, 10) == []  # it starts before the window
    assert find("a public b", 0, 10) == []  # None is no result
    assert recognizer.calls == [
        ("a secret b", ["SECRET"], None), (" secret b", ["SECRET"], None), ("a public b", ["SECRET"], None),
    ]  # fmt: skip


# --- the compiled path, on pattern recognizers built here -----------------------------------


class EvenDigitsRecognizer(PatternRecognizer):
    """Validation and invalidation hooks, overlapping patterns, one that can match nothing."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="NUMBER",
            patterns=[
                Pattern("run", r"[0-9]{2,8}", 0.3),
                Pattern("pair", r"[0-9]{2}", 0.3),  # inside "run" with the same score: dropped
                Pattern("grouped", r"[0-9]+(?:-[0-9]+)+", 0.6),
                Pattern("maybe", r"x*", 0.9),  # empty matches are skipped
            ],
        )

    def validate_result(self, pattern_text: str) -> bool | None:
        if pattern_text.startswith("9"):
            return None
        return sum(map(int, filter(str.isdigit, pattern_text))) % 2 == 0

    def invalidate_result(self, pattern_text: str) -> bool:
        return pattern_text.startswith("00")


RECOGNIZERS_BUILT_HERE = [
    EvenDigitsRecognizer(),
    PatternRecognizer(supported_entity="TITLE", deny_list=["Mr", "Dr", "Prof"]),
    PatternRecognizer(supported_entity="WORD", patterns=[Pattern("w", r"\b\w+\b", 0.2), Pattern("W", r"[A-Z]+", 0.5)]),
]


@pytest.mark.parametrize("recognizer", RECOGNIZERS_BUILT_HERE, ids=lambda r: r.supported_entities[0])
@pytest.mark.parametrize("flags", [None, ASCII_FLAGS])
@pytest.mark.parametrize(
    "text", ["", "12 345 9876 00123 2-4-6 11-3", "Mr Smith and Dr Who, prof X", "号码1234，Dr中 xx 99"]
)
def test_compiled_path_scores_as_presidio_analyze(recognizer: PatternRecognizer, flags: int | None, text: str) -> None:
    find = span_finder(recognizer, recognizer.supported_entities[0], flags)
    assert isinstance(find, CompiledPatterns)
    expected = [(r.start, r.end, r.score) for r in recognizer.analyze(text, recognizer.supported_entities, None, flags)]
    assert rounded(find(text, 0, len(text))) == rounded(expected)


class RescoreNamedRecognizer(PatternRecognizer):
    """Presidio's own `analyze`, and an unrelated method that happens to be called `rescore`."""

    def __init__(self) -> None:
        super().__init__(supported_entity="CODE", patterns=[Pattern("code", r"[A-Z]{2}[0-9]{4}", 0.5)])

    def rescore(self, text: str, start: int, end: int, score: float) -> float:
        return 0.99  # what a caller might ask for; `analyze` never calls it


def test_a_method_named_rescore_does_not_change_presidio_scores() -> None:
    recognizer = RescoreNamedRecognizer()
    text = "ref AB1234"
    expected = [(r.start, r.end, r.score) for r in recognizer.analyze(text, ["CODE"], None)]
    assert expected == [(4, 10, 0.5)]
    assert span_finder(recognizer, "CODE", None)(text, 0, len(text)) == expected
