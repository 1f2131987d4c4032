"""Presidio recognizers as span finders: Presidio's scores, without its per-call costs.

`PatternRecognizer.analyze` takes two timestamps, logs, and builds an `AnalysisExplanation`
and a `RecognizerResult` for every regex match, then sorts and deduplicates them through
`set()` and string hashes. On a candidate window of twenty characters that bookkeeping costs
several times the match itself. A span finder gives the same (start, end, score) triples:

- a recognizer with a `spans(text)` method (our phone matcher) is asked directly;
- a `PatternRecognizer` that keeps Presidio's `analyze` (or ours in `cn_ids`, which adds a
  `rescore` step) has its patterns compiled once, with the same `regex` module and flags,
  and scored exactly as Presidio scores them: `validate_result`, `invalidate_result`, then
  duplicate and containment removal;
- any other recognizer (one that overrides `analyze`) runs through its own `analyze`.

`tests/policies/test_recognizer_spans.py` checks every shipped recognizer against its own
`analyze` on the same texts, so the shortcut cannot drift from Presidio.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import re2
import regex  # type: ignore[import-untyped]  # Presidio's regex engine; no stubs installed
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer

from policies.detectors.prefilters import regex_prefilter

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

#: (start, end, score) of one match in the text given.
Span = tuple[int, int, float]
#: `find(text, start, end)`: the matches that start at or after `start` and end by `end`, as
#: offsets into `text`; what lies around the window counts for boundaries and context.
SpanFinder = Callable[[str, int, int], list[Span]]
#: Characters before a window that a recognizer given only a slice of the text sees, for its
#: own boundary checks (Presidio's IBAN look-behind, phonenumbers' letter test: one each).
SLICE_CONTEXT = 2

_MIN_SCORE = float(EntityRecognizer.MIN_SCORE)
_MAX_SCORE = float(EntityRecognizer.MAX_SCORE)
_NO_NLP = cast("NlpArtifacts", None)


@runtime_checkable
class FindsSpans(Protocol):
    """A recognizer that can report its matches as spans without building results."""

    def spans(self, text: str) -> list[Span]: ...


@runtime_checkable
class Rescores(Protocol):
    """A pattern recognizer whose `analyze` rescores Presidio's results (see `cn_ids`)."""

    def rescore(self, text: str, start: int, end: int, score: float) -> float: ...


def remove_contained(spans: Sequence[Span]) -> list[Span]:
    """Presidio's `EntityRecognizer.remove_duplicates` for spans of one entity: drop zero
    scores, exact repeats, and any span inside another with an equal or higher score."""
    if len(spans) < 2:
        return [span for span in spans if span[2] != 0]
    kept: list[Span] = []
    active: list[Span] = []
    for span in sorted(set(spans), key=lambda s: (s[0], s[0] - s[1], -s[2])):
        start, end, score = span
        if score == 0:
            continue
        active = [other for other in active if other[1] >= start]
        if any(start >= other[0] and end <= other[1] and score <= other[2] for other in active):
            continue
        kept.append(span)
        active.append(span)
    return kept


class CompiledPatterns:
    """A `PatternRecognizer`'s patterns compiled once, scored as its `analyze` scores them.

    It searches a window of the text in place: no copy, and the patterns' look-behinds and a
    `rescore` step's context words see the text around the window. A recognizer with several
    patterns (Presidio's IP, URL and SSN recognizers have four or five) first asks one RE2
    `Set` of their derived prefilters which of them can match in the window, and runs only
    those: an IPv4 address need not go through the IPv6 patterns.
    """

    def __init__(self, recognizer: PatternRecognizer, flags: int | None, rescored: bool = False) -> None:
        self.recognizer = recognizer
        chosen: int = flags or recognizer.global_regex_flags or 0
        patterns: list[Pattern] = recognizer.patterns  # type: ignore[has-type]  # untyped in Presidio
        self._patterns = [(regex.compile(p.regex, flags=chosen), float(p.score)) for p in patterns]
        self._screen = _pattern_screen([p.regex for p in patterns], chosen) if len(patterns) >= SCREENED else None
        self._validate = recognizer.validate_result
        self._invalidate = recognizer.invalidate_result
        self._rescore = recognizer.rescore if rescored and isinstance(recognizer, Rescores) else None

    def __call__(self, text: str, window_start: int, window_end: int) -> list[Span]:
        found: list[Span] = []
        for compiled, base in self._candidates(text, window_start, window_end):
            for match in compiled.finditer(text, window_start, window_end):
                start, end = match.span()
                if start == end:
                    continue
                matched = text[start:end]
                score = base
                valid = self._validate(matched)
                if valid is not None:
                    score = _MAX_SCORE if valid else _MIN_SCORE
                if self._invalidate(matched):
                    score = _MIN_SCORE
                if score > _MIN_SCORE:
                    found.append((start, end, score))
        if self._rescore is None or not found:
            return remove_contained(found)
        rescored = [(s, e, self._rescore(text, s, e, score)) for s, e, score in remove_contained(found)]
        return remove_contained([span for span in rescored if span[2] > 0])


    def _candidates(self, text: str, window_start: int, window_end: int) -> list[tuple[Any, float]]:
        """The compiled patterns that can match in the window (all, without a screen)."""
        if self._screen is None:
            return self._patterns
        try:
            hits = self._screen.Match(text[window_start:window_end])
        except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8 only
            return self._patterns
        return [self._patterns[index] for index in sorted(hits or ())]


#: Recognizers with at least this many patterns screen them with an RE2 Set per window.
SCREENED = 3


def _pattern_screen(patterns: list[str], flags: int) -> Any:
    """One RE2 Set of each pattern's derived prefilter, in order; None if one cannot be derived."""
    options = re2.Options()
    options.never_capture = True
    screen = re2.Set.SearchSet(options)
    try:
        for index, pattern in enumerate(patterns):
            added = screen.Add(regex_prefilter([pattern], flags))
            assert added == index, "re2.Set numbers patterns in the order they are added"
    except (ValueError, re2.error):
        return None
    screen.Compile()
    return screen


def span_finder(recognizer: EntityRecognizer, entity: str, flags: int | None) -> SpanFinder:
    """The cheapest way to get `recognizer`'s spans of `entity` that gives its own answers."""
    if isinstance(recognizer, FindsSpans):
        return _SliceCall(recognizer.spans)
    if isinstance(recognizer, PatternRecognizer):
        analyze = type(recognizer).analyze
        if analyze is PatternRecognizer.analyze:
            return CompiledPatterns(recognizer, flags)
        if isinstance(recognizer, Rescores) and getattr(analyze, "rescores_only", False):
            return CompiledPatterns(recognizer, flags, rescored=True)
    return _SliceCall(_AnalyzeSpans(recognizer, entity, flags))


class _SliceCall:
    """A finder of spans in a whole text, given the window (and a little before it) as a
    text of its own."""

    def __init__(self, spans: Callable[[str], list[Span]]) -> None:
        self.spans = spans

    def __call__(self, text: str, window_start: int, window_end: int) -> list[Span]:
        offset = max(0, window_start - SLICE_CONTEXT)
        found = self.spans(text[offset:window_end])
        return [(start + offset, end + offset, score) for start, end, score in found if start + offset >= window_start]


class _AnalyzeSpans:
    """The fallback: the recognizer's own `analyze` on a text, its results of `entity` as spans."""

    def __init__(self, recognizer: EntityRecognizer, entity: str, flags: int | None) -> None:
        self.recognizer, self.entity, self.flags = recognizer, entity, flags

    def __call__(self, text: str) -> list[Span]:
        recognizer = self.recognizer
        results = (
            recognizer.analyze(text, [self.entity], None, self.flags)
            if isinstance(recognizer, PatternRecognizer)
            else recognizer.analyze(text, [self.entity], _NO_NLP)
        )
        return [(r.start, r.end, float(r.score)) for r in results or () if r.entity_type == self.entity]
