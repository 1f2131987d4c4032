"""PII detection on Presidio's recognizers, without Presidio's slow paths.

Stock `AnalyzerEngine` runs a spaCy pipeline, every recognizer over the whole text and a
lemma-based context enhancer on every request. Here one linear-time `re2.Set` pass tells which
entity kinds can occur at all; only those recognizers run, and only on windows around the
candidates. Context words are looked up in a few characters before each match, which also
works for Chinese, where there are no spaces to tokenize on. Any Presidio `EntityRecognizer`
plugs in: give it a prefilter to make it cheap, or none to run it on every text.

Recognizers read the *light view* of the text (`policies.normalize.light_view`): full-width
digits and `＠`, math-bold digits, zero-width or bidi characters inside an identifier, and a
number spelled in Chinese numerals (`一三八一二三四五六七八`) do not hide it, and every finding is
mapped back to the original characters. Deciding whether a text needs a view at all costs
nothing extra: the view's character class and a pair of numerals are two more patterns of the
prefilter's `re2.Set`, so a clean text (the common case) gets one RE2 pass, as before.

Which recognizers run, and the prefilter, gate and search bounds of each, are in `pii_slots`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import re2
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer

from policies.detectors import cn_ids
from policies.detectors.cn_recognizer import named_else_score
from policies.detectors.context_words import ContextWords
from policies.detectors.pii_hold import trailing_identifier_start
from policies.detectors.pii_slots import EXTENSION_CHARS, FOUND_IN_PLACE_OF, RecognizerSlot
from policies.detectors.prefilter_set import PrefilterSet
from policies.detectors.prefilters import looks_ahead
from policies.detectors.recognizer_spans import SpanFinder, span_finder
from policies.detectors.utf8_text import Utf8Text
from policies.findings import Finding
from policies.light_view import (
    LightView,
    has_numeral_run,
    kept_tail_start,
    light_fold_class,
    light_view,
    numeral_gate,
    numerals_as_digits,
)

#: Characters a search goes on past a `stop` character, for look-aheads (`\\b`, `(?!\\.\\d)`).
#: A recognizer without any ends its search at the stop: past it, a regex can only fail, and
#: failing can be dear (Presidio's URL pattern tries its 1,500 TLDs after every "word.").
STOP_CONTEXT = 8
#: Deleted format characters (zero-width, bidi) that a match may contain and still fit in the
#: declared `max_match_chars`, which counts *original* characters. A match with more is still
#: reported; only the streaming guarantee (released text == whole-text decision) stops there.
FORMAT_CHARS_ALLOWANCE = 8
#: Windows longer than this are searched only where a finding may pass (`_passing_parts`).
NARROWED_FROM_CHARS = 256
#: What `PrefilterSet.fired` reports when the numeral gate is the only extra that fired.
_NUMERALS_ONLY = frozenset({1})


@dataclass(frozen=True)
class _Compiled:
    slot: RecognizerSlot
    context: ContextWords
    prefilter: re2._Regexp | None
    find: SpanFinder
    stop: re.Pattern[str] | None
    stop_context: int
    extension: re.Pattern[str] | None
    #: The recognizer's `unboosted_starts`, if it has one (see `_passing_parts`).
    unboosted_starts: Callable[[str, int, int, float], list[int] | None] | None
    #: Names of other things, for a slot with `named_else`.
    named_else: ContextWords | None


class PiiDetector:
    """Runs the recognizers whose prefilter fires, on candidate windows of the light view."""

    def __init__(
        self,
        name: str,
        slots: Sequence[RecognizerSlot],
        score_threshold: float = 0.5,
        context_window: int = 24,
    ) -> None:
        self.name = name
        self.score_threshold = score_threshold
        self.context_window = context_window
        options = re2.Options()
        options.never_capture = True  # only where a candidate is matters, never its groups
        compiled = [
            _Compiled(s, ContextWords(s.context, s.context_not_after),
                      re2.compile(s.prefilter, options) if s.prefilter else None,
                      span_finder(s.recognizer, s.entity, s.regex_flags), re.compile(s.stop) if s.stop else None,
                      STOP_CONTEXT if _looks_ahead(s.recognizer) else 0,
                      re.compile(s.extension, re.IGNORECASE) if s.extension else None,
                      getattr(s.recognizer, "unboosted_starts", None),
                      ContextWords((), s.named_else) if s.named_else else None)
            for s in slots
        ]
        self._always = [c for c in compiled if c.prefilter is None]
        self._filtered = [c for c in compiled if c.prefilter is not None]
        # The extras: any character the light view changes, and Chinese numerals it may read as
        # digits (`_NUMERALS_ONLY`; see `_view`).
        self._set = PrefilterSet([(c.slot.prefilter or "", c.slot.gate) for c in self._filtered],
                                 extras=[light_fold_class(), numeral_gate()])
        self.entities = tuple(s.entity for s in slots)
        self._max_chars = {s.entity: s.max_chars + FORMAT_CHARS_ALLOWANCE for s in slots}
        self.max_match_chars = max(self._max_chars.values(), default=1)
        chinese = set(cn_ids.ENTITIES)
        self._context_after = cn_ids.CONTEXT_AFTER if any(s.entity in chinese for s in slots) else 0

    def hold_from(self, text: str) -> int:
        """Where an identifier may still be in progress, for streaming: the trailing run of
        identifier characters, or an earlier candidate close enough to the end that a context
        word after it (which the Chinese recognizers weigh) may still arrive."""
        end = len(text)
        floor = max(0, end - (self.max_match_chars - 1))
        start = trailing_identifier_start(text, end - floor)
        if not self._context_after:
            return max(floor, start)
        # Counted as the view counts (marks and zero-width characters are not there): a context
        # word may still come within `_context_after` characters of the view after a candidate.
        after = kept_tail_start(text, self._context_after)
        near = min(kept_tail_start(text, self._context_after + self.max_match_chars), floor)
        tail = text[near:]
        try:
            encoded = Utf8Text(tail)
        except UnicodeEncodeError:  # a lone surrogate: hold the whole bound rather than guess
            return floor
        view, encoded, hits = self._read(tail, encoded)  # circled or full-width digits, as `detect` reads them
        for index in hits:
            prefilter = self._filtered[index].prefilter
            assert prefilter is not None
            for match_start, match_end in encoded.spans(prefilter):
                if view is not None:
                    match_start, match_end = view.original_span(match_start, match_end)
                if near + match_end > after:
                    start = min(start, near + match_start)
                    break
        return start if start < floor else max(floor, start)

    def kinds_taken(self, kinds: frozenset[str]) -> frozenset[str]:
        """What a rule for `kinds` takes: those, and the kinds found in place of one of them
        (`FOUND_IN_PLACE_OF`: a Chinese mobile number is a phone number)."""
        return kinds | {entity for entity in self.entities if FOUND_IN_PLACE_OF.get(entity) in kinds}

    def max_chars_for(self, kinds: frozenset[str] | None) -> int:
        """Longest original span a finding of one of `kinds` (any kind when None) can cover."""
        if kinds is None:
            return self.max_match_chars
        return max((chars for entity, chars in self._max_chars.items() if entity in kinds), default=0)

    def detect(self, text: str) -> list[Finding]:
        view, source, hits = self._view(text)
        findings: list[Finding] = []
        for item in self._always:
            findings.extend(self._analyze(item, source.text, 0, len(source.text)))
        covered = Coverage()  # of `findings`, brought up to date when a deferring slot asks
        for index in hits:
            item = self._filtered[index]
            deferred = covered.updated(findings) if item.slot.defer_to_earlier else None
            windows = self._windows(item, source, deferred)
            if item.unboosted_starts is not None:
                windows = self._passing_parts(item, source.text, windows)
            for first, last, end in windows:
                found = self._analyze(item, source.text, first, end)
                findings.extend(
                    f for f in found  # the finder also sees what starts after the window
                    if f.start < last and (deferred is None or not deferred.contains(f.start, f.end))
                )
        return _dedupe(findings if view is None or view.identity else _in_original(findings, view))

    def _view(self, text: str) -> tuple[LightView | None, Utf8Text, list[int]]:
        """The light view of `text` (None: the text itself), what the recognizers read (the
        view or the text, encoded once for RE2) and the prefilters that fire on it, sorted
        (the slots' order, which deferral relies on). A text the fold leaves alone, the
        common case, takes one RE2 pass."""
        try:
            source: Utf8Text | None = Utf8Text(text)
        except UnicodeEncodeError:  # a lone surrogate: RE2 takes UTF-8 only; the view has U+FFFD
            source = None
        return self._read(text, source)

    def _read(self, text: str, source: Utf8Text | None) -> tuple[LightView | None, Utf8Text, list[int]]:
        """`_view`, given `text` encoded (None: it cannot be)."""
        view: LightView | None = None
        if source is not None:
            hits, folds = self._set.fired(source.data)
            if not folds:
                return None, source, hits
            if folds == _NUMERALS_ONLY:  # prose pairs (七八个) are common: no view unless one is read
                digits = numerals_as_digits(text) if has_numeral_run(source.data) else text
                if digits is text:
                    return None, source, hits
                view = LightView(text, digits)  # one for one
        if view is None:
            view = light_view(text)
        source = Utf8Text(view.text)
        return view, source, self._set.fired(source.data)[0]

    def _windows(self, item: _Compiled, source: Utf8Text, covered: Coverage | None) -> list[tuple[int, int, int]]:
        """(first, last, end): findings may start in [first, last), the search runs to `end`.

        Each candidate (covered ones skipped) lets findings start in it, or `margin` either
        side, its end included; the search goes on for the slot's reach, or to just past the
        first `stop` character, where look-aheads still see the real text. Windows whose
        searches overlap are merged, so that no search begins inside a match an earlier one
        made: the regexes then see the text in the order the whole-text scan does.
        """
        slot, text = item.slot, source.text
        size, margin = len(text), slot.margin
        reach = self._max_chars[slot.entity] if slot.reach is None else slot.reach
        windows: list[tuple[int, int, int]] = []
        assert item.prefilter is not None
        for match_start, match_end in source.spans(item.prefilter):
            if covered is not None and covered.contains(match_start, match_end):
                continue
            first, last = max(0, match_start - margin), min(size, match_end + margin + 1)
            extended = item.extension is not None and item.extension.match(text, match_end)
            end = min(size, last + (EXTENSION_CHARS if extended else reach))
            # From the last place a finding may start: a stop there begins none, and one after
            # it ends any finding begun before.
            stop = item.stop.search(text, last - 1, end) if item.stop is not None else None
            if stop is not None:
                end = min(end, stop.start() + item.stop_context)
            if windows and first < windows[-1][2]:
                previous = windows[-1]
                windows[-1] = (previous[0], max(previous[1], last), max(previous[2], end))
            else:
                windows.append((first, last, end))
        return windows

    def _passing_parts(
        self, item: _Compiled, text: str, windows: list[tuple[int, int, int]]
    ) -> list[tuple[int, int, int]]:
        """The parts of `windows` where a finding can reach the score threshold.

        A recognizer may say where its findings reach it without a context word
        (`unboosted_starts`: the phone matcher's national numbers never do). Elsewhere a finding
        needs a context word ending within `context_window` characters before it, so a window
        far from any (an amount, a date, a table of numbers) is not searched at all: nothing
        in it could be reported. A window longer than `NARROWED_FROM_CHARS` (a long run of digit
        groups) is searched only within reach of its context words and `+` signs, each part a
        finding's length (and an extension) further, parts whose searches overlap as one:
        phonenumbers costs ~35 µs per region on a candidate, and ~30 µs per character of such a
        run, which a 4 KB prompt of numbers made 0.1-0.3 s. On such a run phonenumbers may read
        the numbers in reach differently, as it reads a part from its own start to its own end
        (its candidates are up to 20 digit groups from where it starts, and what follows can
        decide a match): in fuzzing, about one text in 600 of those with runs this long gained
        or lost a finding. A stream, whose scans are shorter, may then redact more than the
        whole text does.
        """
        starts_of = item.unboosted_starts
        assert starts_of is not None
        reach, parts = self.context_window, []
        tail = self._max_chars[item.slot.entity] + EXTENSION_CHARS  # a finding, and its extension
        for first, last, end in windows:
            own: list[int] | None = starts_of(text, first, last, self.score_threshold)
            if own is None:
                parts.append((first, last, end))
                continue
            if end - first <= NARROWED_FROM_CHARS:  # whole, or not at all
                if own or item.context.word_ends(text, max(0, first - reach), last):
                    parts.append((first, last, end))
                continue
            spans = sorted([(at, at + 1) for at in own] + [
                (max(first, word_end), min(last, word_end + reach + 1))
                for word_end in item.context.word_ends(text, max(0, first - reach), last)
            ])
            merged: list[tuple[int, int, int]] = []  # parts whose searches overlap are one
            for start, stop in spans:
                if start >= stop:
                    continue
                if merged and start < merged[-1][2]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], stop), min(end, max(merged[-1][2], stop + tail)))
                else:
                    merged.append((start, stop, min(end, stop + tail)))
            parts.extend(merged)
        return parts

    def _analyze(self, item: _Compiled, text: str, window_start: int, window_end: int) -> list[Finding]:
        entity, findings = item.slot.entity, []
        for start, end, score in item.find(text, window_start, window_end):
            if item.named_else is not None and item.named_else.names_else(text, start):
                score = named_else_score(score)  # and no context word counts (`RecognizerSlot`)
            else:
                score = item.context.boost(score, text, start, self.context_window)
            if score >= self.score_threshold:
                findings.append(Finding(self.name, entity, "pii", start, end, score, f"{self.name}.{entity}"))
        return findings


def _looks_ahead(recognizer: EntityRecognizer) -> bool:
    """Whether the recognizer may test the text after its matches (unknown: it may)."""
    if not isinstance(recognizer, PatternRecognizer):
        return True
    patterns: list[Pattern] = recognizer.patterns  # type: ignore[has-type]  # untyped in Presidio
    return looks_ahead(pattern.regex for pattern in patterns)


class Coverage:
    """The union of earlier findings' spans, for an O(log n) "already found here?" check
    (a linear scan per candidate made a text dense with identifiers quadratic). Kept as sorted,
    disjoint intervals (touching ones joined) and updated with each new finding only, so the
    recognizers that defer, one after another, never re-sort what earlier ones found."""

    def __init__(self) -> None:
        self._seen = 0
        self._starts: list[int] = []
        self._ends: list[int] = []

    def updated(self, findings: Sequence[Finding]) -> Coverage:
        """This coverage with `findings` past those it has seen added (findings only grow)."""
        for finding in findings[self._seen :]:
            self._add(finding.start, finding.end)
        self._seen = len(findings)
        return self

    def contains(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and end <= self._ends[i]

    def _add(self, start: int, end: int) -> None:
        starts, ends = self._starts, self._ends
        first = bisect.bisect_left(ends, start)  # the first interval ending at or after `start`
        last = bisect.bisect_right(starts, end)  # past the last one starting at or before `end`
        if first < last:  # joins intervals first..last-1
            start, end = min(start, starts[first]), max(end, ends[last - 1])
        starts[first:last] = [start]
        ends[first:last] = [end]


def _in_original(findings: list[Finding], view: LightView) -> list[Finding]:
    """Findings on the view, as spans of the original (deleted characters inside included)."""
    mapped = []
    for finding in findings:
        start, end = view.original_span(finding.start, finding.end)
        mapped.append(replace(finding, start=start, end=end))
    return mapped


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (kind, span): overlapping windows can report the same match twice."""
    best: dict[tuple[str, int, int], Finding] = {}
    for finding in findings:
        key = (finding.kind, finding.start, finding.end)
        if key not in best or finding.score > best[key].score:
            best[key] = finding
    return sorted(best.values(), key=lambda f: (f.start, f.end))

