"""Which Presidio recognizers the PII detector runs, and what makes each one cheap.

A `RecognizerSlot` pairs a recognizer with its RE2 prefilter (derived from its own patterns,
see `prefilters.py`), the gate that stands in for it in the detector's RE2 Set
(`prefilter_set.py`), and the bounds of the search around each candidate. `default_slots`
lists the Chinese identifiers of `cn_ids` and Presidio's predefined global recognizers, in the
order they run (generic ones last, deferring to the specific ones before them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from tldextract.remote import lenient_netloc

from policies.detectors import cn_ids
from policies.detectors.cn_checksums import luhn_ok
from policies.detectors.context_words import OTHER_NUMBERS
from policies.detectors.phone import CANDIDATE_RE2, PUNCTUATION, CandidatePhoneRecognizer
from policies.detectors.prefilters import regex_prefilter

#: Presidio's default flags, plus ASCII: `\w` and `\b` must not treat CJK characters as part
#: of an e-mail address or a number ("邮箱是a@b.com" must not swallow "邮箱是").
ASCII_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE | regex.ASCII

#: The public-suffix list as shipped inside tldextract: never fetched from the network.
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

#: Characters around a whole-candidate prefilter match, for the recognizer's boundary checks.
CANDIDATE_MARGIN = 4
#: What phonenumbers reads as an extension right after a number, and the room it may take: a
#: label ("extension", "ext.", "#", "x"), separators and up to 20 digits.
PHONE_EXTENSION = _EXTN_PATTERNS_FOR_MATCHING
EXTENSION_CHARS = 40
class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer with its TLD check on the bundled suffix list only.

    tldextract's answer depends on the host alone (`extract_str` reads `lenient_netloc` of
    its argument and nothing else), and walking the suffix list costs ~6 µs per address,
    so it is asked once per host: mail domains repeat, the addresses on them do not.
    """

    def __init__(self) -> None:
        super().__init__()
        self._has_registrable_domain: dict[str, bool] = {}
        # tldextract parses its suffix list on first use (about 80 ms): at load, not on a request.
        self.validate_result("warm-up@example.com")

    def validate_result(self, pattern_text: str) -> bool:
        host = lenient_netloc(pattern_text)
        known = self._has_registrable_domain.get(host)
        if known is None:
            known = bool(_OFFLINE_TLD(pattern_text).fqdn)
            if len(self._has_registrable_domain) >= HOSTS_REMEMBERED:
                self._has_registrable_domain.clear()  # a flood of made-up hosts cannot grow it
            self._has_registrable_domain[host] = known
        return known


#: Mail hosts whose tldextract answer `OfflineEmailRecognizer` keeps (a few hundred kB).
HOSTS_REMEMBERED = 4096


class FastIpRecognizer(IpRecognizer):
    """Presidio's IP recognizer, with a plain dotted quad checked without `ipaddress`.

    `ipaddress.ip_interface` takes ~6 µs per address; for four dot-separated groups of one to
    three ASCII digits it accepts exactly those without a leading zero and at most 255
    (what `IPv4Address._parse_octet` checks). Anything else (a prefix, IPv6) goes to it.
    """

    def invalidate_result(self, pattern_text: str) -> bool:
        quad = _DOTTED_QUAD.fullmatch(pattern_text)
        if quad is None:
            return bool(super().invalidate_result(pattern_text))
        return any(int(octet) > 255 or (octet[0] == "0" and len(octet) > 1) for octet in quad.groups())


_DOTTED_QUAD = re.compile(r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})")


#: (first IIN digits, last IIN digits, lengths) of the card networks: ISO/IEC 7812 issuer
#: ranges as the networks publish them, in the table of Wikipedia's "Payment card number"
#: article. Left out: Maestro (50, 56-69, 12-19 digits: nearly any number), UATP (1, 15),
#: Visa's retired 13-digit numbers. Presidio's pattern reaches only 13-17 digits starting with
#: 1, 3, 4, 5 or 6; the 2-series Mastercard and 81 UnionPay rows are here for completeness.
CARD_ISSUER_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),  # American Express
    ("6011", "6011", frozenset(range(16, 20))),  # Discover
    ("644", "649", frozenset(range(16, 20))),  # Discover
    ("65", "65", frozenset(range(16, 20))),  # Discover
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("36", "36", frozenset(range(14, 20))),  # Diners Club International
    ("300", "305", frozenset(range(16, 20))),  # Diners Club International
    ("38", "39", frozenset(range(16, 20))),  # Diners Club International
    ("62", "62", frozenset(range(16, 20))),  # UnionPay
    ("81", "81", frozenset(range(16, 20))),  # UnionPay
)


def has_card_issuer_prefix(digits: str) -> bool:
    """Whether a card network issues numbers of this length starting with these digits."""
    size = len(digits)
    return any((size, digits[:width]) in _ISSUER_PREFIXES for width in _PREFIX_WIDTHS)


#: `CARD_ISSUER_RANGES` as (length, prefix) pairs, every prefix of a range written out: four
#: set lookups a number instead of a walk over the ranges.
_ISSUER_PREFIXES = frozenset(
    (size, str(prefix).zfill(len(low)))
    for low, high, lengths in CARD_ISSUER_RANGES
    for prefix in range(int(low), int(high) + 1)
    for size in lengths
)
_PREFIX_WIDTHS = sorted({len(low) for low, _, _ in CARD_ISSUER_RANGES})


class IssuerCheckedCreditCardRecognizer(CreditCardRecognizer):
    """Presidio's credit card recognizer, for numbers a card network issues only.

    Its Luhn check alone takes one in ten 13-17 digit numbers: EAN-13 barcodes (6932743940999),
    millisecond timestamps, IMEIs and parcel numbers came out as cards at score 1.0.
    """

    def validate_result(self, pattern_text: str) -> bool:
        """Presidio's Luhn check, without a Python list per digit: the same answer on the
        digits its pattern matches (`tests/policies/test_pii.py`)."""
        return luhn_ok(EntityRecognizer.sanitize_value(pattern_text, self.replacement_pairs))

    def invalidate_result(self, pattern_text: str) -> bool:
        digits: str = EntityRecognizer.sanitize_value(pattern_text, self.replacement_pairs)
        return not has_card_issuer_prefix(digits)


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
    matches contain, cheaper in that Set (see `prefilter_set`). `context` words raise a score,
    except as the end of one of `context_not_after` ("order number"). A finding that one of
    `named_else` names (`version 1.2.3.4`) is scored by `named_else_score` and takes no context word
    (the Chinese recognizers weigh such names themselves: `ChineseIdRecognizer.NAMED_ELSE`).
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
    context_not_after: tuple[str, ...] = field(default=())
    named_else: tuple[str, ...] = field(default=())


#: Chinese context words for generic phone numbers (Presidio's own list is English only); in
#: Traditional characters they count as well (電話, 聯絡: `ContextWords`).
PHONE_CONTEXT_ZH = ("电话", "致电", "座机", "手机", "联系", "联络", "热线", "拨打", "号码")
#: Presidio's English phone context words, and the words of a contact line.
PHONE_CONTEXT_EN = (*PhoneRecognizer.CONTEXT, "tel", "fax", "contact")


#: What names a version, not an address: `版本 1.2.3.4`, `.NET Framework 4.7.2.0`. Nouns only:
#: verbs name addresses as often (`update to 8.8.8.8`, `release 10.0.0.5`; review).
VERSION_NAMES = ("version", "ver", "build", "firmware", "framework", "版本", "版本号", "固件")


#: The regions the phone matcher asks about a number written without `+`: Presidio's, and CN.
DEFAULT_PHONE_REGIONS = (*PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS, "CN")


def global_slots(phone_regions: Sequence[str] | None = None) -> list[RecognizerSlot]:
    """Presidio's predefined global recognizers, each with an RE2 prefilter: its own patterns
    without look-arounds, or for the phone matcher (which has no pattern to derive from) a
    run of the digits and punctuation that phonenumbers reads, give or take a few characters.
    """
    # The phone matcher reads each candidate (a run of every digit and punctuation mark it
    # takes) and a few characters either side; where phonenumbers' own extension pattern
    # follows ("ext. 1234", " x12", " #3"), room for the extension too. A wider slice on every
    # number would more often hold a second one, and then every region must be asked.
    phone = CandidatePhoneRecognizer(
        supported_regions=tuple(phone_regions or DEFAULT_PHONE_REGIONS),
        context=[*PHONE_CONTEXT_EN, *PHONE_CONTEXT_ZH],
    )
    specs: list[tuple[EntityRecognizer, str, str, int]] = [
        (OfflineEmailRecognizer(), "EMAIL_ADDRESS", _DERIVED, 80),
        (IssuerCheckedCreditCardRecognizer(), "CREDIT_CARD", _DERIVED, 23),
        (IbanRecognizer(), "IBAN_CODE", _DERIVED, 42),
        (FastIpRecognizer(), "IP_ADDRESS", _DERIVED, 64),
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
                       PHONE_EXTENSION if entity == "PHONE_NUMBER" else None,
                       OTHER_NUMBERS if entity == "PHONE_NUMBER" else (),
                       VERSION_NAMES if entity == "IP_ADDRESS" else ())
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
#: Generic recognizers whose candidates are often already found by a specific one. Not the
#: card recognizer, though it is cheap: a Visa number after 信用卡 is a `CN_BANK_CARD` too, an
#: Amex number may read as a 15-digit resident ID, and a rule for `CREDIT_CARD` must see both.
_DEFERRING = frozenset({"PHONE_NUMBER", "US_SSN", "CN_LANDLINE", "CN_MOBILE", "CN_BANK_CARD", "CN_USCC"})
#: Kinds found in place of a generic one that defers to them: a rule for `PHONE_NUMBER` takes
#: a Chinese mobile or landline number too (`PiiDetector.kinds_taken`), which the phone
#: matcher leaves to the Chinese recognizers before it.
FOUND_IN_PLACE_OF = {"CN_MOBILE": "PHONE_NUMBER", "CN_LANDLINE": "PHONE_NUMBER"}
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


def default_slots(phone_regions: Sequence[str] | None = None) -> list[RecognizerSlot]:
    return [*chinese_slots(), *global_slots(phone_regions)]


def _flags_for(recognizer: EntityRecognizer) -> int | None:
    """Regex flags for pattern recognizers; others (the phone matcher) take none."""
    return ASCII_FLAGS if isinstance(recognizer, PatternRecognizer) else None
