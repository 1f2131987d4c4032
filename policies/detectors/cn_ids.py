"""Presidio recognizers for Chinese (mainland, Hong Kong) personal identifiers.

Each recognizer is a `ChineseIdRecognizer` (`cn_recognizer.py`): a regex finds candidates,
`validate_result` / `invalidate_result` check them (check digits, birth dates, region codes),
and context words near a match (身份证, 手机 …, counted on characters) raise its score.

Regexes never use `\\b`: between a CJK character and a digit there is no word boundary (both
are `\\w`). They use `(?<![0-9A-Za-z])` / `(?![0-9A-Za-z])` instead, so nothing is found
inside a longer run of digits or letters, and `[0-9]`, never `\\d`, which matches any Unicode
digit in the `regex` module Presidio uses.

`PREFILTERS` and `MAX_MATCH_CHARS` let `pii.py` run a cheap RE2 pass first and the
recognizers only on windows around its hits.
"""

from __future__ import annotations

import re
from typing import ClassVar

from presidio_analyzer import PatternRecognizer

from policies.detectors.cn_checksums import (
    compact,
    is_valid_hk_id,
    is_valid_legacy_resident_id,
    is_valid_resident_id,
    is_valid_uscc,
    luhn_ok,
)
from policies.detectors.cn_recognizer import CONTEXT_AFTER, CONTEXT_BEFORE, ChineseIdRecognizer
from policies.detectors.context_words import BUSINESS_NUMBERS, DEVICE_NUMBERS

__all__ = ["CONTEXT_AFTER", "CONTEXT_BEFORE", "ENTITIES", "MAX_MATCH_CHARS", "PLATE_PROVINCES", "PREFILTERS",
           "RECOGNIZER_CLASSES", "chinese_recognizers"]
from policies.detectors.prefilters import union_prefilter
from policies.normalize import with_traditional_forms

# Full-width parentheses, as a Chinese input method types them around an area code.
_FW_OPEN = "\N{FULLWIDTH LEFT PARENTHESIS}"
_FW_CLOSE = "\N{FULLWIDTH RIGHT PARENTHESIS}"
_LEFT = r"(?<![0-9A-Za-z])(?<![0-9][.])"  # not inside a token, nor after "1." (versions)
_RIGHT = r"(?![0-9A-Za-z])(?![.][0-9])"
# Not the second group of a dash-joined run of short digit groups: `2024-0512-1381-2345` is an
# order number, not the landline 0512-1381-2345 (nor `20240512-138-1234-5678` a mobile). After
# a whole number (`13812345678-13987654321`) or before an extension (`010-87654321-8001`), a
# number is still one. A group of letters and digits counts too (`SN 9F3A-0731-2345-6789`),
# letters alone do not (`Tel-0755-87654321`). Joined by spaces, the number must be spaced
# itself (`2024 0512 1381 2345`): `518000 0755-87654321` is a postcode and a landline.
#: Another group of digits right after a match.
_GROUP_AFTER = re.compile(r"[ -][0-9]")
_NOT_A_GROUP = (
    r"(?<!(?<![0-9])[0-9]{1,8}-)"
    r"(?<!(?<![0-9A-Za-z])(?=[A-Za-z]*[0-9])[0-9A-Za-z]{1,8}-)"
    r"(?:(?<!(?<![0-9])[0-9]{1,8} )|(?![0-9]{1,8} ))"
)
# ... unless the number stands whole on its own (`Room 101-13812345678`: eleven digits).
_WHOLE_MOBILE = r"(?=1[3-9][0-9]{9}(?![0-9]))"

_DATE8 = r"(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DATE6 = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_MOBILE_PREFIX = rf"(?:(?:\+|00)86[ -]?|[({_FW_OPEN}]\+?86[){_FW_CLOSE}][ -]?|86[ -]?)"
_MOBILE_SEGMENT = r"1(?:3[0-9]|4[5-9]|5[0-35-9]|6[2567]|7[0-8]|8[0-9]|9[0-35-9])"
_AREA = r"(?:10|2[0-9]|[3-9][0-9]{2})"  # area code without its trunk 0
_LOCAL = r"[1-9][0-9]{2,3}[ -]?[0-9]{4}"
#: Province characters a plate starts with, also in Traditional form (`粵B12345` is a Guangdong
#: plate written in Hong Kong); the stream hold-back (`pii_hold`) reads them too.
PLATE_PROVINCES = with_traditional_forms("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
_PLATE_LETTER = "A-HJ-NP-Z"  # plates never use I or O
_PLATE_SERIAL = (
    rf"(?:[DF][{_PLATE_LETTER}0-9][0-9]{{4}}|[0-9]{{5}}[DF]"
    rf"|[{_PLATE_LETTER}0-9]{{4}}[{_PLATE_LETTER}0-9{with_traditional_forms('挂学警港澳')}])"
)

def _same_digits(text: str) -> bool:
    """`00000000` and the like: placeholders, not identifiers."""
    digits = [char for char in text if char.isdigit()]
    return len(set(digits)) <= 1


class ResidentIdRecognizer(ChineseIdRecognizer):
    """Mainland resident ID: 18 characters with a MOD 11-2 check, or the old 15 digits."""

    ENTITY = "CN_RESIDENT_ID"
    PATTERNS = (
        (
            "cn_resident_id",
            rf"{_LEFT}[1-9][0-9]{{5}}(?:{_DATE8}[0-9]{{3}}|[ -]{_DATE8}[ -][0-9]{{3}})[0-9X]{_RIGHT}",
            0.5,
        ),
        # In groups of four, as a bank card is written: 1101 0519 4912 3100 2X.
        (
            "cn_resident_id_grouped",
            rf"{_LEFT}[1-9][0-9]{{3}}(?:[ -][0-9]{{4}}){{3}}[ -][0-9][0-9X]{_RIGHT}",
            0.5,
        ),
        # The region code whole or halved, then fours, as a phone number is written:
        # 110105 1949 1231 002X, 110 105 1949 1231 002X.
        (
            "cn_resident_id_phone_grouped",
            rf"{_LEFT}[1-9][0-9]{{2}}[ -]?[0-9]{{3}}(?:[ -][0-9]{{4}}){{2}}[ -][0-9]{{3}}[0-9X]{_RIGHT}",
            0.5,
        ),
        ("cn_resident_id_legacy", rf"{_LEFT}[1-9][0-9]{{5}}{_DATE6}[0-9]{{3}}{_RIGHT}", 0.5),
    )
    CONTEXT = (
        "身份证", "证件号", "身份号码", "公民身份", "居民身份", "id card", "id no", "id number",
        "identity", "resident id",
    )  # fmt: skip
    NAMED_ELSE = (*BUSINESS_NUMBERS, *DEVICE_NUMBERS)

    def validate_result(self, pattern_text: str) -> bool | None:
        """18 characters: True (score 1.0) only if region, birth date and check char agree.

        15 digits have no check digit: a real region and date leave the base score (None).
        """
        if len(pattern_text) <= 17 and len(compact(pattern_text)) == 15:  # 18 characters at least otherwise
            return None if is_valid_legacy_resident_id(pattern_text) else False
        return is_valid_resident_id(pattern_text)


class MobileRecognizer(ChineseIdRecognizer):
    """Mainland mobile numbers in the 13x-19x ranges, with an optional +86 prefix."""

    ENTITY = "CN_MOBILE"
    PATTERNS = (
        (
            "cn_mobile",
            rf"{_LEFT}(?:{_NOT_A_GROUP}|{_WHOLE_MOBILE}){_MOBILE_PREFIX}?{_MOBILE_SEGMENT}"
            rf"[ -]?[0-9]{{4}}[ -]?[0-9]{{4}}{_RIGHT}",
            0.6,
        ),
    )
    CONTEXT = (
        "手机", "手提", "电话", "联系方式", "联络", "微信", "致电", "mobile", "phone", "cell", "tel",
        "call", "whatsapp", "wechat",
    )  # fmt: skip
    # Device numbers only (a member or account number often *is* its holder's mobile number),
    # and only for a number another group follows: `SN 177-5458-0812-2003` is a serial, while
    # `SN 13812345678` may be a mobile number hidden behind a name (review).
    NAMED_ELSE = DEVICE_NUMBERS

    def named_else(self, text: str, start: int, end: int) -> bool:
        return _GROUP_AFTER.match(text, end) is not None and super().named_else(text, start, end)


class LandlineRecognizer(ChineseIdRecognizer):
    """Fixed-line numbers: area code (0xx / 0xxx, or +86 without the 0) and 7-8 digits.

    Without any separator (`075587654321`) it is just a number starting with 0, so that form
    has a lower base score than `0755-87654321` or `(0755) 8765 4321`.
    """

    ENTITY = "CN_LANDLINE"
    PATTERNS = (
        (
            "cn_landline",
            rf"{_LEFT}{_NOT_A_GROUP}(?:0{_AREA}[ -]|[({_FW_OPEN}]0{_AREA}[){_FW_CLOSE}][ ]?){_LOCAL}{_RIGHT}",
            0.5,
        ),
        (
            "cn_landline_international",
            rf"{_LEFT}(?:\+|00)86[ -]?(?:0?{_AREA}|\(0?{_AREA}\))[ -]?{_LOCAL}{_RIGHT}",
            0.6,
        ),
        ("cn_landline_compact", rf"{_LEFT}0{_AREA}{_LOCAL}{_RIGHT}", 0.3),
    )
    CONTEXT = (
        "电话", "座机", "固话", "传真", "联系方式", "联络", "总机", "phone", "tel", "call", "landline", "fax",
    )  # fmt: skip

    def invalidate_result(self, pattern_text: str) -> bool:
        return _same_digits(pattern_text[-8:])


class BankCardRecognizer(ChineseIdRecognizer):
    """Bank card numbers, 16-19 digits, plain or in groups of four.

    UnionPay's `62` prefix and a Luhn pass each raise the score; neither alone reaches 0.4,
    so a plain long number needs a context word (卡号, 银行卡, card number ...) to count.
    """

    ENTITY = "CN_BANK_CARD"
    PATTERNS = (
        ("cn_bank_card", rf"{_LEFT}[0-9]{{16,19}}{_RIGHT}", 0.1),
        (
            "cn_bank_card_grouped",
            rf"{_LEFT}(?<![0-9][ -])[0-9]{{4}}(?:[ -][0-9]{{4}}){{3}}(?:[ -][0-9]{{1,3}})?"
            rf"{_RIGHT}(?![ -][0-9])",
            0.1,
        ),
    )
    CONTEXT = (
        "卡号", "银行卡", "账号", "帐号", "账户", "帐户", "储蓄卡", "借记卡", "信用卡", "开户行",
        "银联", "收款", "card", "account", "debit", "unionpay", "bank",
    )  # fmt: skip
    NAMED_ELSE = (*BUSINESS_NUMBERS, *DEVICE_NUMBERS)  # order numbers of 16-19 digits
    # (starts with 62, passes Luhn) -> score before context.
    SCORES: ClassVar[dict[tuple[bool, bool], float]] = {
        (True, True): 0.85,
        (True, False): 0.35,
        (False, True): 0.3,
        (False, False): 0.1,
    }

    def invalidate_result(self, pattern_text: str) -> bool:
        """Placeholders, and 18-digit resident IDs, which this pattern also matches."""
        return _same_digits(pattern_text) or is_valid_resident_id(pattern_text)

    def adjusted_score(self, matched: str, score: float) -> float:
        if score <= 0:
            return score
        digits = compact(matched)
        return self.SCORES[(digits.startswith("62"), luhn_ok(digits))]


class UsccRecognizer(ChineseIdRecognizer):
    """Unified social credit code (统一社会信用代码) with its GB 32100 check character."""

    ENTITY = "CN_USCC"
    PATTERNS = (("cn_uscc", rf"{_LEFT}[1-9ANY][1-9][0-9]{{6}}[0-9A-HJ-NP-RTUW-Y]{{10}}{_RIGHT}", 0.5),)
    CONTEXT = (
        "信用代码", "税号", "纳税人识别号", "营业执照", "组织机构", "credit code", "uscc",
        "tax id", "business license",
    )  # fmt: skip

    def validate_result(self, pattern_text: str) -> bool:
        return is_valid_uscc(pattern_text)

    def invalidate_result(self, pattern_text: str) -> bool:
        """An all-digit code that is a valid resident ID is reported as that instead."""
        return is_valid_resident_id(pattern_text)


class PassportRecognizer(ChineseIdRecognizer):
    """PRC passports: E/G + 8 digits, E + letter + 7 digits; D/S/P + 7 for official ones.

    These shapes are common in part numbers too, so the base score is low and a context
    word (护照, passport) is what makes a finding.
    """

    ENTITY = "CN_PASSPORT"
    PATTERNS = (
        ("cn_passport", rf"{_LEFT}(?-i:[EG][0-9]{{8}}|E[A-HJ-NP-Z][0-9]{{7}}){_RIGHT}", 0.25),
        ("cn_passport_official", rf"{_LEFT}(?-i:[DSP][0-9]{{7}}){_RIGHT}", 0.1),
    )
    CONTEXT = ("护照", "证件号", "passport", "travel document")

    def invalidate_result(self, pattern_text: str) -> bool:
        return _same_digits(pattern_text)


class HkmoPermitRecognizer(ChineseIdRecognizer):
    """Travel permits: 往来港澳通行证 (C + 8 digits, C + letter + 7) and 回乡证 (H/M + 8[+2])."""

    ENTITY = "CN_HKMO_PERMIT"
    PATTERNS = (
        ("cn_hkmo_permit", rf"{_LEFT}(?-i:C[0-9]{{8}}|C[A-HJ-NP-Z][0-9]{{7}}){_RIGHT}", 0.25),
        ("cn_home_return_permit", rf"{_LEFT}(?-i:[HM][0-9]{{8}}(?:[0-9]{{2}})?){_RIGHT}", 0.1),
    )
    CONTEXT = (
        "通行证", "港澳", "回乡证", "来往内地", "证件号", "permit", "exit-entry", "home return",
    )  # fmt: skip

    def invalidate_result(self, pattern_text: str) -> bool:
        return _same_digits(pattern_text)


class HkIdRecognizer(ChineseIdRecognizer):
    """Hong Kong identity card, `A123456(3)` / `AB123456(9)`, with its mod-11 check."""

    ENTITY = "HK_ID"
    PATTERNS = (
        (
            "hk_id",
            rf"{_LEFT}(?-i:[A-Z]{{1,2}}[0-9]{{6}}"
            rf"(?: ?\([0-9A]\)|{_FW_OPEN}[0-9A]{_FW_CLOSE}|[0-9A])){_RIGHT}",  # `A123456 (3)` too
            0.4,
        ),
    )
    CONTEXT = (
        "香港身份证", "身份证", "证件号", "hkid", "hong kong id", "identity card", "id card",
        "id no",
    )  # fmt: skip

    def validate_result(self, pattern_text: str) -> bool | None:
        """Bad check: False. Good check in parentheses: True (1.0). Bare: base score (None)."""
        if not is_valid_hk_id(pattern_text):
            return False
        return True if pattern_text[-1] in (")", _FW_CLOSE) else None


class LicensePlateRecognizer(ChineseIdRecognizer):
    """Vehicle plates: province character, letter, 5 characters (6 for new-energy cars)."""

    ENTITY = "CN_LICENSE_PLATE"
    PATTERNS = (
        (
            "cn_license_plate",
            rf"(?<![0-9A-Za-z])(?-i:[{PLATE_PROVINCES}][{_PLATE_LETTER}][·•・ -]?{_PLATE_SERIAL})"
            rf"{_RIGHT}",
            0.5,
        ),
    )
    CONTEXT = ("车牌", "牌照", "号牌", "车辆", "车号", "plate", "vehicle")

    def invalidate_result(self, pattern_text: str) -> bool:
        """A serial with fewer than two digits (`新ABCDE`) is a word, not a plate."""
        return sum(char.isdigit() for char in pattern_text) < 2


RECOGNIZER_CLASSES: tuple[type[ChineseIdRecognizer], ...] = (
    ResidentIdRecognizer,
    MobileRecognizer,
    LandlineRecognizer,
    BankCardRecognizer,
    UsccRecognizer,
    PassportRecognizer,
    HkmoPermitRecognizer,
    HkIdRecognizer,
    LicensePlateRecognizer,
)
ENTITIES: tuple[str, ...] = tuple(cls.ENTITY for cls in RECOGNIZER_CLASSES)


def chinese_recognizers() -> list[PatternRecognizer]:
    """One fresh instance of each recognizer, in `ENTITIES` order."""
    return [cls() for cls in RECOGNIZER_CLASSES]


# RE2 prefilters: each recognizer's own patterns without their look-arounds (a superset of
# what it finds; see `prefilters.py`). `pii.py` runs them first, then the recognizer on
# windows of `MAX_MATCH_CHARS` around their hits.
PREFILTERS: dict[str, str] = {
    cls.ENTITY: union_prefilter((regex for _, regex, _ in cls.PATTERNS), ignore_case=True)
    for cls in RECOGNIZER_CLASSES
}

# Longest span of original text one finding can cover (for the streaming hold-back).
MAX_MATCH_CHARS: dict[str, int] = {
    "CN_RESIDENT_ID": 22,  # 1101 0519 4912 3100 2X, 110 105 1949 1231 002X
    "CN_MOBILE": 19,  # (+86) 138-0013-8000
    "CN_LANDLINE": 21,  # 0086-(0755)-8765-4321
    "CN_BANK_CARD": 23,  # 6222 0212 3456 7890 123
    "CN_USCC": 18,
    "CN_PASSPORT": 9,
    "CN_HKMO_PERMIT": 11,  # H1234567801
    "HK_ID": 12,  # AB123456 (9)
    "CN_LICENSE_PLATE": 9,  # 粤B·D12345
}
