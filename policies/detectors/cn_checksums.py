"""Pure check-digit and structure checks for Chinese identifiers.

Kept apart from the Presidio recognizers in `cn_ids.py` so the arithmetic can be tested (and
reused to generate test data) without any regex or Presidio machinery. Every function takes
the matched text as written and strips separators itself; none of them raise on bad input,
they return False.
"""

from __future__ import annotations

import operator
from datetime import date

# GB/T 2260 province-level codes of the mainland: the first two digits of a resident ID.
MAINLAND_PROVINCE_CODES: frozenset[str] = frozenset(
    str(code)
    for code in (*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47),
                 *range(50, 55), *range(61, 66))
)  # fmt: skip
# Also: 71 Taiwan, 81/82 Hong Kong / Macau, 83 Taiwan residents' residence permits.
PROVINCE_CODES: frozenset[str] = MAINLAND_PROVINCE_CODES | {"71", "81", "82", "83"}
# The 2023 foreigners' permanent-residence ID: 9, the issuing province, a 3-digit nationality
# code, then birth date, sequence and check digit where a resident ID has them.
FOREIGNER_ID_PREFIX = "9"

_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_ID_CHECK = "10X98765432"

# GB 32100-2015: 31 characters, I O S V Z left out because they read like digits.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES = {char: value for value, char in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 32100-2015 table A.1 (with the authorities added since): the registering authority (1st
# character) and the organization types it registers (2nd character).
USCC_ORGANIZATION_TYPES: dict[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 编办管理的群众团体, 其他
    "2": "19",  # 外交: 外国常驻新闻机构, 其他
    "3": "123459",  # 司法行政: 律师事务所, 公证处, 基层法律服务所, 司法鉴定, 仲裁委员会, 其他
    "4": "19",  # 文化: 外国在华文化中心, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游: 外国 / 港澳台旅游部门常驻代表机构, 其他
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "19",  # 工会: 基层工会, 其他
    "9": "123",  # 工商 (市场监管): 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
    "Y": "1",  # 其他
}
# GB/T 2260's code for the whole country: where national-level bodies are registered.
NATIONAL_REGION_CODE = "100000"
# GB 11714-1997: the organization code (USCC characters 9-17) carries its own check character.
_ORGANIZATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_SEPARATORS = str.maketrans("", "", " -()\N{FULLWIDTH LEFT PARENTHESIS}\N{FULLWIDTH RIGHT PARENTHESIS}")


def compact(text: str) -> str:
    """`text` without the separators people put in numbers, upper-cased."""
    return text.translate(_SEPARATORS).upper()


def is_real_birth_date(year: int, month: int, day: int, today: date | None = None) -> bool:
    """A calendar date between 1900-01-01 and `today` (default: now), both included.

    Birth dates in IDs are what tell a resident ID from an 18-digit order number.
    """
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return _EARLIEST_BIRTH <= born <= (today or date.today())


_EARLIEST_BIRTH = date(1900, 1, 1)


def resident_id_check_char(body17: str) -> str:
    """GB 11643-1999 ISO 7064 MOD 11-2 check character for the first 17 digits."""
    return _RESIDENT_ID_CHECK[_weighted_digit_sum(body17, _RESIDENT_ID_WEIGHTS) % 11]


def _weighted_digit_sum(digits: str, weights: tuple[int, ...]) -> int:
    """sum(digit * weight) for ASCII digits, in C: on the bytes, less the weighted b"0"s."""
    if len(digits) != len(weights):
        raise ValueError(f"expected {len(weights)} digits, got {len(digits)}")
    total: int = sum(map(operator.mul, digits.encode("ascii"), weights))
    return total - ord("0") * sum(weights)


def is_valid_resident_id(text: str, today: date | None = None) -> bool:
    """An 18-character resident ID (or foreigner's permanent-residence ID): province, real
    birth date, check character all right."""
    value = compact(text)
    if len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit():
        return False
    if not _is_resident_id_region(value) or resident_id_check_char(value[:17]) != value[17]:
        return False  # the cheap checks first: most look-alikes fail the check character
    return is_real_birth_date(int(value[6:10]), int(value[10:12]), int(value[12:14]), today)


def _is_resident_id_region(value: str) -> bool:
    """A province code first, or a foreigner's permanent-residence ID's 9 and province code."""
    if value.startswith(FOREIGNER_ID_PREFIX):
        return value[1:3] in MAINLAND_PROVINCE_CODES
    return value[:2] in PROVINCE_CODES


def is_valid_legacy_resident_id(text: str, today: date | None = None) -> bool:
    """A 15-digit ID (issued until 1999): province and a real 19YYMMDD birth date.

    It has no check digit, so this is all that can be verified.
    """
    value = compact(text)
    if len(value) != 15 or not value.isascii() or not value.isdigit():
        return False
    if value[:2] not in PROVINCE_CODES:
        return False
    return is_real_birth_date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]), today)


def uscc_check_char(body17: str) -> str:
    """GB 32100-2015 check character for the first 17 characters of a credit code."""
    total = sum(_USCC_VALUES[char] * weight for char, weight in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def organization_code_check_char(body8: str) -> str:
    """GB 11714-1997 check character for the first 8 characters of an organization code
    (digits, and letters valued A=10 ... Z=35)."""
    total = sum(int(char, 36) * weight for char, weight in zip(body8, _ORGANIZATION_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def is_valid_uscc(text: str) -> bool:
    """A unified social credit code: charset, authority and organization type, region code,
    the organization code's check character and the code's own.

    Each part is one more thing a random 18-digit number must get right: a province and the
    check character alone let about one order number in 90 through.
    """
    value = compact(text)
    if len(value) != 18 or any(char not in _USCC_VALUES for char in value):
        return False
    if value[1] not in USCC_ORGANIZATION_TYPES.get(value[0], ""):
        return False
    region = value[2:8]
    if not region.isdigit() or (region[:2] not in MAINLAND_PROVINCE_CODES and region != NATIONAL_REGION_CODE):
        return False
    if organization_code_check_char(value[8:16]) != value[16]:
        return False
    return uscc_check_char(value[:17]) == value[17]


def _hk_letter_value(char: str) -> int:
    return ord(char) - ord("A") + 10


def hk_id_check_char(prefix: str, digits6: str) -> str:
    """Hong Kong identity card check character (mod 11; 'A' stands for 10).

    A one-letter prefix counts as a leading space, whose value is 36.
    """
    letters = prefix.upper()
    first = 36 if len(letters) == 1 else _hk_letter_value(letters[0])
    values = [first, _hk_letter_value(letters[-1]), *(int(digit) for digit in digits6)]
    total = sum(value * weight for value, weight in zip(values, range(9, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return "A" if check == 10 else str(check)


def is_valid_hk_id(text: str) -> bool:
    """`A123456(3)` / `AB123456(9)`, parentheses optional, with a matching check character."""
    value = compact(text)
    letters = len(value) - 7
    if letters not in (1, 2) or not value[:letters].isalpha() or not value[:letters].isascii():
        return False
    digits = value[letters : letters + 6]
    if not digits.isascii() or not digits.isdigit():
        return False
    return hk_id_check_char(value[:letters], digits) == value[-1]


def luhn_ok(text: str) -> bool:
    """The Luhn (mod 10) check that bank card numbers carry in their last digit."""
    digits = compact(text)
    if not digits or not digits.isascii() or not digits.isdigit():
        return False
    backwards = digits[::-1].encode("ascii")
    kept, doubled = backwards[0::2], backwards[1::2]
    total = sum(kept) - ord("0") * len(kept) + sum(map(_LUHN_DOUBLED.__getitem__, doubled))
    return total % 10 == 0


#: Every second digit from the right, doubled and its digits summed, by its ASCII code.
_LUHN_DOUBLED = {ord("0") + d: (2 * d - 9 if d > 4 else 2 * d) for d in range(10)}


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` pass `luhn_ok` (used to build test data)."""
    return next(digit for digit in "0123456789" if luhn_ok(body + digit))
