"""PII detection on Presidio's recognizers, without Presidio's slow paths.

Stock `AnalyzerEngine` runs a spaCy pipeline, every recognizer over the whole text and a
lemma-based context enhancer on every request. Here one linear-time `re2.Set` pass tells which
entity kinds can occur at all; only those recognizers run, and only on windows around the
candidates. Context words are looked up in a few characters before each match, which also
works for Chinese, where there are no spaces to tokenize on. Any Presidio `EntityRecognizer`
plugs in: give it a prefilter to make it cheap, or none to run it on every text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import re2
import regex
import tldextract
from presidio_analyzer import EntityRecognizer, PatternRecognizer
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
from policies.findings import Finding

#: Presidio's default flags, plus ASCII: `\w` and `\b` must not treat CJK characters as part
#: of an e-mail address or a number ("邮箱是a@b.com" must not swallow "邮箱是").
ASCII_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE | regex.ASCII

#: The public-suffix list as shipped inside tldextract: never fetched from the network.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

CONTEXT_BOOST = 0.35
CONTEXT_MIN_SCORE = 0.4
#: Characters around a whole-candidate prefilter match, for the recognizer's boundary checks.
CANDIDATE_MARGIN = 4


class OfflineEmailRecognizer(EmailRecognizer):  # type: ignore[misc]
    """Presidio's e-mail recognizer with its TLD check on the bundled suffix list only."""

    def validate_result(self, pattern_text: str) -> bool:
        return bool(_OFFLINE_TLD(pattern_text).fqdn)


@dataclass(frozen=True)
class RecognizerSlot:
    """A Presidio recognizer and what makes it cheap: a prefilter and a bound on match length.

    `prefilter` is an RE2 pattern matching a superset of the text the recognizer can match;
    without one the recognizer runs on the whole text. The recognizer runs on each prefilter
    match widened by `margin` characters either side. `max_chars` bounds one match: it sizes
    the streaming hold-back. With `defer_to_earlier`, a candidate lying inside a span an
    earlier recognizer already found is not looked at again (the generic phone matcher need
    not re-examine a number already found as a Chinese mobile).
    """

    recognizer: EntityRecognizer
    entity: str
    prefilter: str | None
    max_chars: int
    regex_flags: int | None = None
    context: tuple[str, ...] = field(default=())
    margin: int = 0
    defer_to_earlier: bool = False


def global_slots() -> list[RecognizerSlot]:
    """Presidio's predefined global recognizers, each with an RE2 prefilter.

    These prefilters match a whole candidate (not just its core), so each recognizer runs on
    the candidate plus a few characters either side for its own boundary checks.
    """
    phone = PhoneRecognizer(supported_regions=(*PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS, "CN"))
    specs: list[tuple[EntityRecognizer, str, str, int]] = [
        (OfflineEmailRecognizer(), "EMAIL_ADDRESS",
         r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+", 80),
        (phone, "PHONE_NUMBER", r"\+?\(?\d[\d \-().]{5,20}\d", 32),
        (CreditCardRecognizer(), "CREDIT_CARD", r"\d{4}[ \-]?\d{3,4}[ \-]?\d{3,4}[ \-]?\d{3,5}", 23),
        (IbanRecognizer(), "IBAN_CODE", r"[A-Za-z]{2}\d{2}[ ]?[A-Za-z0-9]{4}[A-Za-z0-9 ]{4,30}", 42),
        (IpRecognizer(), "IP_ADDRESS",
         r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9A-Fa-f:]*::?[0-9A-Fa-f:.]+|::", 64),
        (UrlRecognizer(), "URL",
         r"(?i)(?:[a-z][a-z0-9+.\-]*://)?[a-z0-9\-.]*[a-z0-9\-]\.[a-z]{2,}(?:[/?#][^\s()<>\"']*)?", 256),
        (CryptoRecognizer(), "CRYPTO", r"(?:bc1|[13])[a-zA-HJ-NP-Z0-9]{25,59}", 62),
        (UsSsnRecognizer(), "US_SSN", r"\d{3}[ \-.]?\d{2}[ \-.]?\d{4}", 11),
    ]
    return [
        RecognizerSlot(rec, entity, pre, max_chars, _flags_for(rec), tuple(rec.context or ()),
                       CANDIDATE_MARGIN, entity in _DEFERRING)
        for rec, entity, pre, max_chars in specs
    ]


#: Generic recognizers whose candidates are often already found by a specific one.
_DEFERRING = frozenset({"PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "CN_LANDLINE"})


def chinese_slots() -> list[RecognizerSlot]:
    """The Chinese identifier recognizers of `cn_ids`, with their prefilters."""
    slots = []
    for rec in cn_ids.chinese_recognizers():
        entity = rec.supported_entities[0]
        max_chars = cn_ids.MAX_MATCH_CHARS[entity]
        # These recognizers weigh their own context words (before and after, by character),
        # so the slot adds none; the margin lets them see those words around the match.
        slots.append(RecognizerSlot(rec, entity, cn_ids.PREFILTERS.get(entity), max_chars, None,
                                    (), max_chars + cn_ids.CONTEXT_CHARS, entity in _DEFERRING))
    return slots


def default_slots() -> list[RecognizerSlot]:
    return [*chinese_slots(), *global_slots()]


def _flags_for(recognizer: EntityRecognizer) -> int | None:
    """Regex flags for pattern recognizers; others (the phone matcher) take none."""
    return ASCII_FLAGS if isinstance(recognizer, PatternRecognizer) else None


class PiiDetector:
    """Runs the recognizers whose prefilter fires, on candidate windows only."""

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
        self._always = [s for s in slots if s.prefilter is None]
        self._filtered = [s for s in slots if s.prefilter is not None]
        options = re2.Options()
        options.never_capture = True
        self._set = re2.Set.SearchSet(options)
        for slot in self._filtered:
            self._set.Add(slot.prefilter)
        self._set.Compile()
        self._prefilters = [re2.compile(s.prefilter) for s in self._filtered]
        self.entities = tuple(s.entity for s in slots)
        self.max_match_chars = max((s.max_chars for s in slots), default=1)

    def detect(self, text: str) -> list[Finding]:
        findings: list[Finding] = []
        for slot in self._always:
            findings.extend(self._analyze(slot, text, 0, text))
        hits = sorted(self._set.Match(text) or ()) if self._filtered else ()
        for index in hits:
            slot = self._filtered[index]
            covered = [(f.start, f.end) for f in findings] if slot.defer_to_earlier else []
            for start, end in self._windows(self._prefilters[index], text, slot.margin, covered):
                findings.extend(self._analyze(slot, text[start:end], start, text))
        return _dedupe(findings)

    @staticmethod
    def _windows(
        prefilter: re2._Regexp, text: str, margin: int, covered: list[tuple[int, int]]
    ) -> Iterable[tuple[int, int]]:
        """Candidate windows, widened by `margin` either side and merged; covered ones skipped."""
        window_start = window_end = -1
        for match in prefilter.finditer(text):
            if any(s <= match.start() and match.end() <= e for s, e in covered):
                continue
            start, end = max(0, match.start() - margin), min(len(text), match.end() + margin)
            if start <= window_end:
                window_end = max(window_end, end)
                continue
            if window_end >= 0:
                yield window_start, window_end
            window_start, window_end = start, end
        if window_end >= 0:
            yield window_start, window_end

    def _analyze(self, slot: RecognizerSlot, window: str, offset: int, text: str) -> list[Finding]:
        results = (
            slot.recognizer.analyze(window, [slot.entity], None, slot.regex_flags)
            if slot.regex_flags is not None
            else slot.recognizer.analyze(window, [slot.entity], None)
        )
        findings = []
        for result in results or ():
            start, end = result.start + offset, result.end + offset
            score = self._with_context(float(result.score), slot.context, text, start)
            if score >= self.score_threshold:
                findings.append(
                    Finding(self.name, result.entity_type, "pii", start, end, score,
                            f"{self.name}.{result.entity_type}")
                )
        return findings

    def _with_context(self, score: float, words: tuple[str, ...], text: str, start: int) -> float:
        """Raise the score when a context word stands just before the match, as Presidio does."""
        if not words or score >= 1.0:
            return score
        before = text[max(0, start - self.context_window) : start].lower()
        if any(word in before for word in words):
            return min(1.0, max(score + CONTEXT_BOOST, CONTEXT_MIN_SCORE))
        return score


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per (kind, span): overlapping windows can report the same match twice."""
    best: dict[tuple[str, int, int], Finding] = {}
    for finding in findings:
        key = (finding.kind, finding.start, finding.end)
        if key not in best or finding.score > best[key].score:
            best[key] = finding
    return sorted(best.values(), key=lambda f: (f.start, f.end))
