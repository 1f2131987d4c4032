"""PII detection on Presidio's recognizers, without Presidio's slow paths.

Stock `AnalyzerEngine` runs a spaCy pipeline, every recognizer over the whole text and a
lemma-based context enhancer on every request. Here one linear-time `re2.Set` pass tells which
entity kinds can occur at all; only those recognizers run, and only on windows around the
candidates. Context words are looked up in a few characters before each match, which also
works for Chinese, where there are no spaces to tokenize on. Any Presidio `EntityRecognizer`
plugs in: give it a prefilter to make it cheap, or none to run it on every text.

Recognizers read the *light view* of the text (`policies.normalize.light_view`): full-width
digits and `＠`, math-bold digits and zero-width or bidi characters inside an identifier do not
hide it, and every finding is mapped back to the original characters. Deciding whether a text
needs a view at all costs nothing extra: the view's character class is one more pattern of
the prefilter's `re2.Set`, so a clean text (the common case) gets one RE2 pass, as before.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import re2
import regex  # type: ignore[import-untyped]  # only for its flag constants; no stubs installed
import tldextract
from phonenumbers.phonenumberutil import _EXTN_PATTERNS_FOR_MATCHING
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    EmailRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsSsnRecognizer,
)

from policies.detectors import cn_ids
from policies.detectors.phone import CANDIDATE_RE2, PUNCTUATION, CandidatePhoneRecognizer
from policies.detectors.pii_hold import trailing_identifier_start
from policies.detectors.prefilter_set import PrefilterSet
from policies.detectors.prefilters import regex_prefilter
from policies.detectors.recognizer_spans import SpanFinder, span_finder
from policies.detectors.utf8_text import Utf8Text
from policies.findings import Finding
from policies.light_view import LightView, light_fold_class, light_view

#: Presidio's default flags, plus ASCII: `\w` and `\b` must not treat CJK characters as part
#: of an e-mail address or a number ("邮箱是a@b.com" must not swallow "邮箱是").
ASCII_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE | regex.ASCII

#: The public-suffix list as shipped inside tldextract: never fetched from the network.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

CONTEXT_BOOST = 0.35
CONTEXT_MIN_SCORE = 0.4
#: Characters around a whole-candidate prefilter match, for the recognizer's boundary checks.
CANDIDATE_MARGIN = 4
#: What phonenumbers reads as an extension right after a number, and the room it may take: a
#: label ("extension", "ext.", "#", "x"), separators and up to 20 digits.
PHONE_EXTENSION = _EXTN_PATTERNS_FOR_MATCHING
EXTENSION_CHARS = 40
#: Characters a search goes on past a `stop` character, for look-aheads (`\\b`, `(?!\\.\\d)`).
STOP_CONTEXT = 8
#: Deleted format characters (zero-width, bidi) that a match may contain and still fit in the
#: declared `max_match_chars`, which counts *original* characters. A match with more is still
#: reported; only the streaming guarantee (released text == whole-text decision) stops there.
FORMAT_CHARS_ALLOWANCE = 8


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with its TLD check on the bundled suffix list only."""

    def __init__(self) -> None:
        super().__init__()
        # tldextract parses its suffix list on first use (about 80 ms): at load, not on a request.
        self.validate_result("warm-up@example.com")

    def validate_result(self, pattern_text: str) -> bool:
        return bool(_OFFLINE_TLD(pattern_text).fqdn)


@dataclass(frozen=True)
class RecognizerSlot:
    """A Presidio recognizer and what makes it cheap: a prefilter and a bound on match length.

    `prefilter` is an RE2 pattern matching a superset of the text the recognizer can match;
    without one the recognizer runs on the whole text. Every finding starts inside a prefilter
    match, or `margin` characters either side of one (0 for a prefilter derived from the
    recognizer's own patterns, see `prefilters.py`), and is at most `max_chars` long: the
    recognizer looks for findings starting there only, and ending at most `reach` characters
    (default: `max_chars`) after the window, or before the first character after it that
    matches `stop` (a character class no finding contains); where `extension` matches right
    after a candidate, the search goes `EXTENSION_CHARS` further. `max_chars` also sizes the
    streaming hold-back.

    With `defer_to_earlier`, a finding (or a whole candidate) lying inside a span an earlier
    recognizer already found is dropped (the generic phone matcher need not re-examine a
    number already found as a Chinese mobile). The one RE2 pass that picks the prefilters to
    search holds `gate` in this one's place, when it has one: a pattern that all of its
    matches contain, cheaper in that Set (see `prefilter_set`).
    """

    recognizer: EntityRecognizer
    entity: str
    prefilter: str | None
    max_chars: int
    regex_flags: int | None = None
    context: tuple[str, ...] = field(default=())
    margin: int = 0
    defer_to_earlier: bool = False
    gate: str | None = None
    stop: str | None = None
    reach: int | None = None
    extension: str | None = None


#: Chinese context words for generic phone numbers (Presidio's own list is English only).
PHONE_CONTEXT_ZH = ("电话", "致电", "座机", "手机", "联系", "热线", "号码", "拨打")


def global_slots() -> list[RecognizerSlot]:
    """Presidio's predefined global recognizers, each with an RE2 prefilter: its own patterns
    without look-arounds, or for the phone matcher (which has no pattern to derive from) a
    run of the digits and punctuation that phonenumbers reads, give or take a few characters.
    """
    # The phone matcher reads each candidate (a run of every digit and punctuation mark it
    # takes) and a few characters either side; where phonenumbers' own extension pattern
    # follows ("ext. 1234", " x12", " #3"), room for the extension too. A wider slice on every
    # number would more often hold a second one, and then every region must be asked.
    phone = CandidatePhoneRecognizer(
        supported_regions=(*PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS, "CN"),
        context=[*PhoneRecognizer.CONTEXT, *PHONE_CONTEXT_ZH],
    )
    specs: list[tuple[EntityRecognizer, str, str, int]] = [
        (OfflineEmailRecognizer(), "EMAIL_ADDRESS", _DERIVED, 80),
        (CreditCardRecognizer(), "CREDIT_CARD", _DERIVED, 23),
        (IbanRecognizer(), "IBAN_CODE", _DERIVED, 42),
        (IpRecognizer(), "IP_ADDRESS", _DERIVED, 64),
        (UrlRecognizer(), "URL", _DERIVED, 256),
        (CryptoRecognizer(), "CRYPTO", _DERIVED, 62),
        (UsSsnRecognizer(), "US_SSN", _DERIVED, 11),
        # Last: phonenumbers tries every region on each candidate (the costliest recognizer by
        # far), so it only looks at digits no recognizer before it has already explained.
        (phone, "PHONE_NUMBER", CANDIDATE_RE2, 32),
    ]
    return [
        RecognizerSlot(rec, entity, _derived(rec) if pre is _DERIVED else pre, max_chars, _flags_for(rec),
                       tuple(rec.context or ()), 0 if pre is _DERIVED else CANDIDATE_MARGIN, entity in _DEFERRING,
                       _GATES.get(entity), _STOPS.get(entity), CANDIDATE_MARGIN if entity == "PHONE_NUMBER" else None,
                       PHONE_EXTENSION if entity == "PHONE_NUMBER" else None)
        for rec, entity, pre, max_chars in specs
    ]


#: In `global_slots`: the recognizer's own patterns, without look-arounds, are the prefilter.
_DERIVED = "derived from the recognizer's patterns"


def _derived(recognizer: EntityRecognizer) -> str:
    """`regex_prefilter` of a pattern recognizer's regexes, read with the flags its `analyze`
    uses: `ASCII_FLAGS` for Presidio's own, its own flags where it overrides `analyze` (IBAN)."""
    assert isinstance(recognizer, PatternRecognizer)
    patterns: list[Pattern] = recognizer.patterns  # type: ignore[has-type]  # untyped in Presidio
    own = type(recognizer).analyze is not PatternRecognizer.analyze
    flags: int = (recognizer.global_regex_flags or 0) if own else ASCII_FLAGS
    return regex_prefilter((pattern.regex for pattern in patterns), flags)


#: Characters that no finding of these recognizers contains (read off Presidio's patterns;
#: `tests/policies/test_prefilters.py` checks them): a search goes no further than the first
#: one after its window, so a URL does not cost 256 characters of its heavy patterns.
_STOPS = {
    "EMAIL_ADDRESS": r"[^0-9A-Za-z_!#$%&'*+\-/=?^`{|}~.@]",
    "IP_ADDRESS": r"[^0-9A-Za-z.:/%]",
    "URL": r"[ \t\n\r\f\v()<>]",  # the path stops at ASCII white space only (ASCII flag)
    "CRYPTO": r"[^0-9A-Za-z]",
}
#: Generic recognizers whose candidates are often already found by a specific one.
_DEFERRING = frozenset({"PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "CN_LANDLINE", "CN_MOBILE", "CN_BANK_CARD", "CN_USCC"})
#: Recognizers whose every candidate holds six or more digits and number punctuation in a row
#: (checked against their prefilters in `tests/policies/test_prefilter_set.py`).
_NUMERIC = frozenset({
    "CN_RESIDENT_ID", "CN_MOBILE", "CN_LANDLINE", "CN_BANK_CARD", "CN_USCC", "CREDIT_CARD", "US_SSN", "PHONE_NUMBER",
})
#: What every candidate of a `_NUMERIC` recognizer holds: a digit, four or more digits or
#: number punctuation (the phone matcher's, which includes the others'), a digit.
NUMERIC_GATE = rf"\p{{Nd}}[{PUNCTUATION}\p{{Nd}}]{{4,}}\p{{Nd}}"
#: Gates that stand in for prefilters in the Set (see `prefilter_set`): digit-shaped ones
#: multiply the Set's states, and so does a 25-59 character repeat of a wide class (crypto).
_GATES = {
    **dict.fromkeys(_NUMERIC, NUMERIC_GATE),
    "CRYPTO": "[0-9A-Za-z]{26}",  # 1, 3 or bc1, then 25 or more of these (case folded)
}


def chinese_slots() -> list[RecognizerSlot]:
    """The Chinese identifier recognizers of `cn_ids`, with their prefilters."""
    slots = []
    for rec in cn_ids.chinese_recognizers():
        entity = rec.supported_entities[0]
        max_chars = cn_ids.MAX_MATCH_CHARS[entity]
        # These recognizers weigh their own context words (before and after, by character),
        # so the slot adds none; they read those words in the whole text, around the window.
        # Their prefilters are their patterns' own cores: a finding starts inside a match.
        slots.append(RecognizerSlot(rec, entity, cn_ids.PREFILTERS.get(entity), max_chars, None,
                                    (), 0, entity in _DEFERRING, _GATES.get(entity)))
    return slots


def default_slots() -> list[RecognizerSlot]:
    return [*chinese_slots(), *global_slots()]


def _flags_for(recognizer: EntityRecognizer) -> int | None:
    """Regex flags for pattern recognizers; others (the phone matcher) take none."""
    return ASCII_FLAGS if isinstance(recognizer, PatternRecognizer) else None


class ContextWords:
    """Words that raise a match's score when they stand just before it, as Presidio does.

    Chinese words match anywhere in the window: there are no spaces to split words on. ASCII
    words match only as whole words (an optional plural `s` aside), so `tel` does not fire in
    `hotel` nor `ip` in `ship`; `tel13812345678` still counts.
    """

    def __init__(self, words: Iterable[str]) -> None:
        cleaned = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
        self.words = tuple(cleaned)
        self._substrings = tuple(w for w in cleaned if not w.isascii())
        latin = [re.escape(w) for w in cleaned if w.isascii()]
        self._latin = (
            re.compile(rf"(?<![0-9a-z])(?:{'|'.join(latin)})s?(?![0-9a-z])", re.IGNORECASE | re.ASCII)
            if latin
            else None
        )

    def before(self, text: str, start: int, window: int) -> bool:
        """Whether a word ends within `window` characters before `text[start]`. The search
        sees the character before the window, so a word cut by the window is not a word."""
        low = max(0, start - window)
        if self._latin is not None and self._latin.search(text, low, start):
            return True
        if self._substrings:
            before = text[low:start].lower()
            return any(word in before for word in self._substrings)
        return False

    def boost(self, score: float, text: str, start: int, window: int) -> float:
        """`score`, raised when a context word stands before the match at `start`."""
        if not self.words or score >= 1.0 or not self.before(text, start, window):
            return score
        return min(1.0, max(score + CONTEXT_BOOST, CONTEXT_MIN_SCORE))


@dataclass(frozen=True)
class _Compiled:
    slot: RecognizerSlot
    context: ContextWords
    prefilter: re2._Regexp | None
    find: SpanFinder
    stop: re.Pattern[str] | None
    extension: re.Pattern[str] | None


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
            _Compiled(s, ContextWords(s.context), re2.compile(s.prefilter, options) if s.prefilter else None,
                      span_finder(s.recognizer, s.entity, s.regex_flags), re.compile(s.stop) if s.stop else None,
                      re.compile(s.extension, re.IGNORECASE) if s.extension else None)
            for s in slots
        ]
        self._always = [c for c in compiled if c.prefilter is None]
        self._filtered = [c for c in compiled if c.prefilter is not None]
        # The one extra: any character the light view changes (see `_view`).
        self._set = PrefilterSet([(c.slot.prefilter or "", c.slot.gate) for c in self._filtered],
                                 extras=[light_fold_class()])
        self.entities = tuple(s.entity for s in slots)
        self._max_chars = {s.entity: s.max_chars + FORMAT_CHARS_ALLOWANCE for s in slots}
        self.max_match_chars = max(self._max_chars.values(), default=1)
        chinese = set(cn_ids.ENTITIES)
        self._context_after = cn_ids.CONTEXT_CHARS if any(s.entity in chinese for s in slots) else 0

    def hold_from(self, text: str) -> int:
        """Where an identifier may still be in progress, for streaming: the trailing run of
        identifier characters, or an earlier candidate close enough to the end that a context
        word after it (which the Chinese recognizers weigh) may still arrive."""
        end = len(text)
        floor = max(0, end - (self.max_match_chars - 1))
        start = trailing_identifier_start(text, end - floor)
        if not self._context_after:
            return max(floor, start)
        near = max(0, end - self._context_after - self.max_match_chars)
        tail = text[near:]
        try:
            encoded = Utf8Text(tail)
        except UnicodeEncodeError:  # a lone surrogate: hold the whole bound rather than guess
            return floor
        hits, folds = self._set.fired(encoded.data)
        view = light_view(tail) if folds else None  # circled or full-width digits, as `detect` reads them
        if view is not None:
            encoded = Utf8Text(view.text)
            hits = self._set.fired(encoded.data)[0]
        for index in hits:
            prefilter = self._filtered[index].prefilter
            assert prefilter is not None
            for match_start, match_end in encoded.spans(prefilter):
                if view is not None:
                    match_start, match_end = view.original_span(match_start, match_end)
                if near + match_end > end - self._context_after:
                    start = min(start, near + match_start)
                    break
        return max(floor, start)

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
        covered: Coverage | None = None  # of `findings`, rebuilt only when they grew
        for index in hits:
            item = self._filtered[index]
            if item.slot.defer_to_earlier and (covered is None or covered.count != len(findings)):
                covered = Coverage(findings)
            deferred = covered if item.slot.defer_to_earlier else None
            for first, last, end in self._windows(item, source, deferred):
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
            source = Utf8Text(text)
        except UnicodeEncodeError:  # a lone surrogate: RE2 takes UTF-8 only; the view has U+FFFD
            folds = True
        else:
            hits, extras = self._set.fired(source.data)
            folds = bool(extras)
            if not folds:
                return None, source, hits
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
            stop = item.stop.search(text, last, end) if item.stop is not None else None
            if stop is not None:
                end = min(end, stop.start() + STOP_CONTEXT)
            if windows and first < windows[-1][2]:
                previous = windows[-1]
                windows[-1] = (previous[0], max(previous[1], last), max(previous[2], end))
            else:
                windows.append((first, last, end))
        return windows

    def _analyze(self, item: _Compiled, text: str, window_start: int, window_end: int) -> list[Finding]:
        entity, findings = item.slot.entity, []
        for start, end, score in item.find(text, window_start, window_end):
            score = item.context.boost(score, text, start, self.context_window)
            if score >= self.score_threshold:
                findings.append(Finding(self.name, entity, "pii", start, end, score, f"{self.name}.{entity}"))
        return findings


class Coverage:
    """The union of earlier findings' spans, for an O(log n) "already found here?" check
    (a linear scan per candidate made a text dense with identifiers quadratic). Built on the
    first question: most deferring recognizers find no candidate to ask about."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.count = len(findings)
        self._findings: Sequence[Finding] | None = findings
        self._starts: list[int] = []
        self._ends: list[int] = []

    def contains(self, start: int, end: int) -> bool:
        if self._findings is not None:
            self._merge(self._findings[: self.count])
            self._findings = None
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and end <= self._ends[i]

    def _merge(self, findings: Sequence[Finding]) -> None:
        merged: list[list[int]] = []
        for start, end in sorted((f.start, f.end) for f in findings):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self._starts = [span[0] for span in merged]
        self._ends = [span[1] for span in merged]


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
