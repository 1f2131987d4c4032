"""Presidio's phone recognizer, asking `phonenumbers` fewer questions for the same answers.

Presidio runs `PhoneNumberMatcher` once per configured region (nine here) over its text, then
keeps the longest result per span. The PII detector gives it one candidate number at a time,
so these shortcuts give the same results at a fraction of the cost:

- once a region has matched the whole candidate, and the slice holds nothing else a region
  could read (other digits, a `+` apart from it, an extension), the other regions can only find
  the same span or spans inside it, which Presidio's duplicate removal discards. A number with
  its `+` carries its country code, so the first region asked matches it whole;
- a region whose numbering plan cannot hold any number written in the candidate's digit
  groups is not asked (`phone_regions`): most of the nine for an order number or an amount;
- a slice whose only candidates are dates or ranges of years (`2024-11-27`, `2020-2024`) holds
  no number phonenumbers accepts in the default regions, so none is asked: they are common in
  prompts, and asking all nine regions took 270 µs each.

One answer differs from Presidio's on purpose: a number written in international form, with
its `+` and country code (`+44 20 7946 0958`), scores `INTERNATIONAL_SCORE` (0.5, the default
threshold) instead of 0.4. phonenumbers has checked it against that country's numbering plan,
and such a number leaked into a completion is personal data whether or not a word like
"phone" stands before it. A national number (`020 7946 0958`) still needs a context word.

One more, on texts no one writes: phonenumbers gives up on a text after 65,535 candidates it
rejected. A text read in pieces (`_matches`) gives each piece that budget, so in a text of more
than that many non-numbers (`1 a 1 a …`, 280 KB) a number after them is still found (review).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberMatch
from phonenumbers.phonenumbermatcher import _OPENING_PARENS
from phonenumbers.phonenumberutil import _PLUS_CHARS, _REGEX_FLAGS, _VALID_PUNCTUATION
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from policies.detectors.phone_regions import PLUS, RegionScreen
from policies.detectors.recognizer_spans import Span, remove_contained

#: Everything `PhoneNumberMatcher` lets stand between or before digits: its punctuation (dashes,
#: slashes, dots, brackets, tildes, spaces of every width, the letter x), plus signs and
#: opening brackets. Taken from phonenumbers itself, so the candidates below cover its matches.
#: It starts with "-", so it must open a character class.
PUNCTUATION = _VALID_PUNCTUATION + _PLUS_CHARS + _OPENING_PARENS
#: A digit, five or more digits or punctuation, a digit: seven characters at least. Shorter
#: numbers exist (German ones of five or six digits, some Pacific islands') and are not looked
#: for: in prose, runs that short are rarely phone numbers.
CANDIDATE = re.compile(rf"[{_PLUS_CHARS}{_OPENING_PARENS}]{{0,2}}\d[{PUNCTUATION}\d]{{5,}}\d")
#: The same for RE2, whose `\d` is ASCII: `\p{Nd}` is every decimal digit, as Python's `\d`.
CANDIDATE_RE2 = rf"[{_PLUS_CHARS}{_OPENING_PARENS}]{{0,2}}\p{{Nd}}[{PUNCTUATION}\p{{Nd}}]{{5,}}\p{{Nd}}"


class CandidatePhoneRecognizer(PhoneRecognizer):
    """`PhoneRecognizer` with the shortcuts above, and international numbers scored
    `INTERNATIONAL_SCORE`; otherwise Presidio's own matching."""

    INTERNATIONAL_SCORE = 0.5

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._screen = RegionScreen(self.supported_regions)
        self._dates_are_no_numbers = set(self.supported_regions) <= DATES_CHECKED_IN
        # phonenumbers loads each region's metadata on first use: at load, not on a request.
        self.spans("call 020 7946 0958 or 0755-8765-4321")

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        results = [self._result(match, text) for match in self._matches(text)]
        deduplicated: list[RecognizerResult] = EntityRecognizer.remove_duplicates(results)
        return deduplicated

    def spans(self, text: str) -> list[Span]:
        """What `analyze` finds, as spans (see `recognizer_spans`), scored as `analyze` scores
        them; the region (which only Presidio's explanation text names) is not looked up."""
        return remove_contained([(match.start, match.end, self._score(match, text)) for match in self._matches(text)])

    def unboosted_starts(self, text: str, start: int, end: int, threshold: float) -> list[int] | None:
        """Where in `text[start:end]` a finding may score `threshold` without a context word:
        at a `+` that a number may follow, if international numbers pass it; None if anywhere
        may."""
        if threshold <= self.SCORE:
            return None
        if threshold > self.INTERNATIONAL_SCORE:
            return []
        pluses = _PLUS.finditer(text, start, end)
        return [plus.start() for plus in pluses if _INTERNATIONAL.match(text, plus.start())]

    def _score(self, match: Any, text: str) -> float:
        """`SCORE`, or `INTERNATIONAL_SCORE` for a number written with its `+`."""
        return float(self.INTERNATIONAL_SCORE if text[match.start] in _PLUS_CHARS else self.SCORE)

    def _matches(self, text: str) -> list[Any]:
        """`PhoneNumberMatcher`'s matches over the regions that can still add a span, read a
        piece at a time where a `+` after a number's digits begins another (`_NEXT_PLUS`)."""
        # Cut where only punctuation is left before the `+`: a candidate may end in `#` or read
        # the letter after it (`… ext 1#a+`), so all but that punctuation stays with the number.
        cuts = [plus.end() - _PUNCTUATION_RUN.match(plus.group()[::-1]).end()  # type: ignore[union-attr]
                for plus in _NEXT_PLUS.finditer(text)]
        if not cuts:
            return self._matches_in(text)
        matches: list[Any] = []
        for start, end in pairwise([0, *cuts, len(text)]):
            # One character past the cut: phonenumbers tests the character after a candidate.
            matches.extend(PhoneNumberMatch(start + match.start, match.raw_string, match.number)
                           for match in self._matches_in(text[start : end + 1]))
        return matches

    def _matches_in(self, text: str) -> list[Any]:
        """`_matches` on a text that no `+` after digits cuts."""
        candidates = list(CANDIDATE.finditer(text))
        if (self._dates_are_no_numbers and candidates and PLUS.isdisjoint(text)
                and all(_is_date(candidate.group()) for candidate in candidates)):
            return []
        reading = self._screen.read(text)
        # Stop at the first region that matched the whole candidate (for a `+` number, the
        # first one asked) only if nothing else in the slice could be read: no other digits (a
        # short German number), no `+` apart from it, no extension.
        alone = (len(candidates) == 1 and len(reading.runs) == 1 and not reading.extension
                 and PLUS.isdisjoint(text[: candidates[0].start()] + text[candidates[0].end() :]))
        whole = candidates[0].span() if alone else None
        matches: list[Any] = []
        for region in self.supported_regions:
            if not self._screen.may_hold(region, reading.digits):
                continue
            found = list(phonenumbers.PhoneNumberMatcher(text, region, leniency=self.leniency or 0))
            matches.extend(found)
            if whole is not None and any(m.start <= whole[0] and m.end >= whole[1] for m in found):
                break
        return matches

    def _result(self, match: Any, text: str) -> RecognizerResult:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(text[match.start : match.end]))
        except phonenumbers.NumberParseException:
            region = None
        result: RecognizerResult = self._get_recognizer_result(match, text, region, None)  # type: ignore[no-untyped-call]
        result.score = self._score(match, text)
        return result


def _is_date(candidate: str) -> bool:
    """A date of 1900-2099 (`2024-11-27`, `2024/1/5`, `(2024.11.27`) or a range of such years
    (`2020-2024`): phonenumbers finds no number in one in any default region (all 504,000 such
    dates, with or without leading zeros, and 280,000 ranges, checked), but would try them all
    at ~30 µs each. (It does in some earlier ones: `1648-10-24` is a German number. A `+`
    anywhere in the slice can make any of them one.)"""
    return _DATE.fullmatch(candidate.lstrip(_OPENING_BRACKETS)) is not None


#: The regions in which every date `_is_date` takes was checked (Malta, for one, has numbers
#: that read as dates: `2011-11-23`).
DATES_CHECKED_IN = frozenset({*PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS, "CN"})
_DATE = re.compile(r"(?:19|20)[0-9]{2}(?:([-/.])[01]?[0-9]\1[0-3]?[0-9]|[-‐‑–—~～](?:19|20)[0-9]{2})")
_OPENING_BRACKETS = "([（［"
_PLUS = re.compile(f"[{_PLUS_CHARS}]")
#: What stands between a digit and the next `+`, digits aside. No candidate of
#: phonenumbers holds a `+` after a digit (they start with at most two plus signs or brackets,
#: each with punctuation, then digits, punctuation and an extension, which ends in digits or
#: `#`), so the text is read apart on either side of a cut in it: `_matches` cuts where only
#: punctuation is left before the `+` (right after the digit when nothing else is there).
#: phonenumbers tests the character before a candidate only when the candidate starts with no
#: bracket or `+`, and the character after one, which each piece keeps. So `+44 20 7946 0958
#: +1 415 555 2671` and `tel: +1 (415) 555-2671 tel: +1 …` are read a number at a time, each
#: ended by the first region that matches it (nine regions read each of 235 such numbers in a
#: row otherwise: 80 ms; 178 numbers with a `tel:` before each, 60 ms).
_NEXT_PLUS = re.compile(rf"(?<=\d)[^\d{_PLUS_CHARS}]*(?=[{_PLUS_CHARS}])")
#: A run of phonenumbers' punctuation (read on a reversed string: the run that ends one).
_PUNCTUATION_RUN = re.compile(rf"[{_VALID_PUNCTUATION}]*", _REGEX_FLAGS)  # `X` too, as phonenumbers reads it
#: The fewest digits of a valid number in international form (Austria's, Germany's and Iran's
#: shortest: a two-digit country code and four digits), checked against phonenumbers'
#: metadata by the tests.
MIN_INTERNATIONAL_DIGITS = 6
#: A `+` that may begin such a number: phonenumbers' candidates start with at most two plus
#: signs or brackets, each with some punctuation, and have none after their first digit, so
#: the number's digits follow with only punctuation between them (`+1 +1 +1` has none).
_INTERNATIONAL = re.compile(
    rf"[{_PLUS_CHARS}][{PUNCTUATION}]*"
    rf"(?:\d[{_VALID_PUNCTUATION}]*){{{MIN_INTERNATIONAL_DIGITS - 1}}}\d"
)
