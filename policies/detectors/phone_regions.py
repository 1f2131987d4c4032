"""Which regions' numbering plans could hold a number written in a run of digit groups.

`PhoneNumberMatcher` costs ~30 µs per region on a run of digits, and Presidio asks nine
regions; a date, an order number or an amount that no recognizer explains costs all nine
(270 µs). phonenumbers only reports a valid number, and a number written without `+` is
valid for a region only if its digits (those of some consecutive digit groups, where the
matcher splits a candidate) are, for that region's country code:

- the region's international dialling prefix (`00`, `011`) and then anything (any country);
- a national significant number, maybe after a national prefix (`0`, `1`, or a carrier
  code): of one of the plan's types (fixed line, mobile, toll free ...), of a length and a
  pattern that type allows; maybe after the country code itself (`4420 7946 0958` in Great
  Britain), and then up to two national prefixes.

`RegionScreen.may_hold` asks exactly that of the metadata phonenumbers itself uses, as one
regex per region (asked only when the region's turn comes: the first region often matches and
ends the search), and answers "maybe" wherever it cannot tell (a `+`, an extension,
very long runs): a region it rules out is one where phonenumbers finds nothing. The tests hold it
against phonenumbers on generated digit runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumbermatcher import _OPENING_PARENS
from phonenumbers.phonenumberutil import _EXTN_PATTERNS_FOR_MATCHING, _PLUS_CHARS, _VALID_PUNCTUATION

#: Digit groups a candidate may have before the screen stops trying their combinations.
MAX_GROUPS = 6
#: phonenumbers reads at most this many digits in one block; a longer run it may cut anywhere.
MAX_GROUP_DIGITS = 17
#: Digits a national prefix with a carrier code can take (Brazil: `0` or `90`, and two).
CARRIER_PREFIX_DIGITS = 5

_GROUP = re.compile(r"\d+")
#: Digit groups joined by anything phonenumbers lets stand between digits.
_RUN = re.compile(rf"\d(?:[{_VALID_PUNCTUATION}{_OPENING_PARENS}\d]*\d)?")  # classes as phonenumbers writes them
#: The plus signs phonenumbers reads before a country code.
PLUS = frozenset(_PLUS_CHARS)
#: A national-prefix transform rule that only keeps one of the prefix pattern's groups (`\\2`).
_KEEPS_A_GROUP = re.compile(r"\\[0-9]")
_EXTENSION = re.compile(_EXTN_PATTERNS_FOR_MATCHING, re.IGNORECASE | re.UNICODE)


@dataclass(frozen=True)
class Reading:
    """What the screen read in a text: its digit runs, whether it holds an extension, and the
    digit strings the regions are asked about (None: the screen cannot tell)."""

    runs: list[str]
    extension: bool
    digits: set[str] | None


class RegionScreen:
    """`read(text)`, then `may_hold(region, reading.digits)` for each region in turn:
    whether phonenumbers may find a number of that region there."""

    def __init__(self, regions: Iterable[str]) -> None:
        self._plans = {region: _plan(region) for region in regions}

    def read(self, text: str) -> Reading:
        """The digit strings of every run of consecutive digit groups in `text` (a group is
        a run of digits, groups are joined by phonenumbers' punctuation); none where a `+`,
        an extension or a very long run leaves the screen unable to tell. (An extension with
        more digits than its label takes, `#97154139761`, ends inside a group, and the
        matcher's next number starts there.)"""
        runs = _RUN.findall(text)
        extension = _EXTENSION.search(text) is not None
        unreadable = extension or not PLUS.isdisjoint(text)
        return Reading(runs, extension, None if unreadable else _digit_strings(runs))

    def may_hold(self, region: str, digits: set[str] | None) -> bool:
        """Whether the region's plan may hold a number written in one of `digits` (None: it may)."""
        plan = self._plans.get(region)
        return digits is None or plan is None or any(plan.fullmatch(d) for d in digits)


def _digit_strings(runs: list[str]) -> set[str] | None:
    """The digits of every run of consecutive groups of each run; None if one is too long."""
    digits: set[str] = set()
    for run in runs:
        groups = _GROUP.findall(run)
        if not run.isascii():  # other scripts' digits, as phonenumbers reads them
            groups = [phonenumbers.normalize_digits_only(group) for group in groups]
        if len(groups) > MAX_GROUPS or any(len(g) > MAX_GROUP_DIGITS for g in groups):
            return None
        digits.update("".join(groups[i:j]) for i in range(len(groups)) for j in range(i + 1, len(groups) + 1))
    return digits


def _plan(region: str) -> re.Pattern[str] | None:
    """One regex that every digit string in which this region can find a number matches
    (None: no metadata to tell, so always ask phonenumbers)."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code is None:
        return None
    country_code = metadata.country_code
    international = f"(?:{metadata.international_prefix})[0-9]*" if metadata.international_prefix else None
    if metadata.national_prefix_transform_rule:
        if not _KEEPS_A_GROUP.fullmatch(metadata.national_prefix_transform_rule):
            return None  # the rule adds digits (Bermuda's `441\\1`): always ask
        national = f"[0-9]{{0,{CARRIER_PREFIX_DIGITS}}}"  # the rule keeps a suffix; which one, it decides
    elif metadata.national_prefix_for_parsing:
        national = f"(?:{_non_capturing(metadata.national_prefix_for_parsing)})?"
    else:
        national = ""
    plans = []
    for other in phonenumbers.region_codes_for_country_code(country_code):
        for desc in _number_types(PhoneMetadata.metadata_for_region(other) or metadata):
            if desc.national_number_pattern is None or -1 in desc.possible_length:
                continue  # no number of this type
            pattern, lengths = desc.national_number_pattern, "|".join(f"[0-9]{{{n}}}" for n in desc.possible_length)
            plans.append(f"(?=(?:{lengths})$)(?:{pattern})" if lengths else pattern)
    if not plans:
        return None
    nsn = f"(?:{'|'.join(plans)})"
    # After the country code phonenumbers strips a national prefix, and parsing the rest strips
    # one more (`1 1 1 202 555 0123`).
    alternatives = [p for p in (international, f"{country_code}{national}{national}{nsn}", f"{national}{nsn}") if p]
    return re.compile("|".join(f"(?:{p})" for p in alternatives))


def _number_types(metadata: PhoneMetadata) -> list[Any]:
    """The descriptions of each type of number of a plan: a valid number is one of them
    (`phonenumberutil._number_type_helper`)."""
    kinds = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
             "fixed_line", "mobile")
    return [desc for kind in kinds if (desc := getattr(metadata, kind, None)) is not None]


def _non_capturing(pattern: str) -> str:
    """`pattern` with its capturing groups made non-capturing (the screen needs no groups)."""
    return re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern)
