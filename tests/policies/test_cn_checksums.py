"""Check-digit arithmetic, against values published with the standards and elsewhere."""

from __future__ import annotations

from datetime import date

import pytest

from policies.detectors.cn_checksums import (
    hk_id_check_char,
    is_real_birth_date,
    is_valid_hk_id,
    is_valid_legacy_resident_id,
    is_valid_resident_id,
    is_valid_uscc,
    luhn_check_digit,
    luhn_ok,
    organization_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)

TODAY = date(2024, 6, 1)


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("11010519491231002", "X"),  # GB 11643-1999 example
        ("44052418800101001", "4"),  # GB 11643-1999 example
        ("32010619900307123", "4"),  # worked by hand: sum 217, 217 % 11 = 8
    ],
)
def test_resident_id_check_char(body: str, check: str) -> None:
    assert resident_id_check_char(body) == check


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("11010519491231002X", True),
        ("11010519491231002x", True),
        ("110105 19491231 002X", True),
        ("110105194912310021", False),  # wrong check character
        ("440524188001010014", False),  # right check, but born before 1900
        ("202311271234567890", False),  # order number: region 20, month 11, day 27 ... check
        ("990105194912310025", False),  # no province 99
        ("931840198503071231", True),  # foreigner's permanent residence: 9, Shanghai, USA
        ("911156199001010010", True),  # 9, Beijing, nationality 156
        ("931840198503071232", False),  # wrong check character
        ("919840198503071235", False),  # 9 then no province 19 (91 alone passed before)
        ("971840198503071239", False),  # 9 then Taiwan: issued on the mainland only
        ("11010520250101001X", False),  # born after TODAY
        ("1101051949123100", False),  # too short
        ("１１０１０５１９４９１２３１００２Ｘ", False),  # full-width digits: normalize first
    ],
)
def test_is_valid_resident_id(value: str, valid: bool) -> None:
    assert is_valid_resident_id(value, today=TODAY) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("130503670401001", True),
        ("110105491231002", True),
        ("130503670231001", False),  # 31 February
        ("200503670401001", False),  # no province 20
        ("13050367040100", False),
    ],
)
def test_is_valid_legacy_resident_id(value: str, valid: bool) -> None:
    assert is_valid_legacy_resident_id(value, today=TODAY) is valid


@pytest.mark.parametrize(
    ("ymd", "real"),
    [
        ((1949, 12, 31), True),
        ((2000, 2, 29), True),
        ((1900, 2, 29), False),
        ((1949, 2, 31), False),
        ((1899, 12, 31), False),
        ((2024, 6, 1), True),
        ((2024, 6, 2), False),
    ],
)
def test_is_real_birth_date(ymd: tuple[int, int, int], real: bool) -> None:
    assert is_real_birth_date(*ymd, today=TODAY) is real


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("91350100M000100Y43", True),  # GB 32100-2015 example
        ("91110000600037341L", True),
        ("91350100m000100y43", True),
        ("914403001922038216", True),  # published codes: both check characters agree
        ("91440300708461136T", True),
        ("91330100716105852F", True),
        ("11100000MB0143028R", True),  # 机构编制, 机关, registered at national level (100000)
        ("12100000400000624D", True),  # 机构编制, 事业单位, national level
        ("91350100M000100Y44", False),
        ("91350100M000100Y4I", False),  # I is not in the charset
        ("91990100M000100Y43", False),  # no province 99
        ("91910100M000100Y4T", False),  # no province 91 (check characters right, as below)
        ("91100100M000100Y41", False),  # 10 is national only as 100000
        ("94350100M000100Y4R", False),  # 工商 registers no type 4
        ("Y1350100M000100Y4D", True),  # 其他, type 1
        ("Y2350100M000100Y4A", False),  # 其他 has type 1 only
        ("B1350100M000100Y41", False),  # no authority B
        ("91350100M000100Y56", False),  # organization code check: Y4, not Y5
        # An order number (found by review): 民政's type 2, province 42, but the organization code
        # 61735013 checks to 1, not 8.
        ("524220161735013889", False),
    ],
)
def test_is_valid_uscc(value: str, valid: bool) -> None:
    assert is_valid_uscc(value) is valid


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("M000100Y", "4"),
        ("60003734", "1"),
        ("MB014302", "8"),  # worked by hand: M=22, B=11; sum 201, 11 - 201 % 11 = 8
        ("40000062", "4"),
        ("00000000", "0"),  # 11 - 0 = 11: '0'
        ("00000006", "X"),  # 11 - 12 % 11 = 10: 'X'
    ],
)
def test_organization_code_check_char(body: str, check: str) -> None:
    assert organization_code_check_char(body) == check


def test_uscc_check_char_zero_case() -> None:
    """A weighted sum divisible by 31 gives check character '0', not index 31."""
    bodies = (f"91110000{org}{organization_code_check_char(org)}" for org in (f"6000{n:04d}" for n in range(10_000)))
    body = next(body for body in bodies if uscc_check_char(body) == "0")
    assert is_valid_uscc(body + "0")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("A123456(3)", True),
        ("AB123456(9)", True),
        ("AB987654(3)", True),
        ("E364912(5)", True),
        ("D288754(2)", True),
        ("D2887542", True),
        ("d288754(2)", True),
        ("D288754（2）", True),
        ("D288754(3)", False),
        ("ABC12345(6)", False),
        ("A12345(3)", False),
    ],
)
def test_is_valid_hk_id(value: str, valid: bool) -> None:
    assert is_valid_hk_id(value) is valid


def test_hk_id_check_char_a_means_ten() -> None:
    assert hk_id_check_char("G", "123456") == "A"
    assert is_valid_hk_id("G123456(A)")


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("4111111111111111", True),
        ("6222 0212 3456 7894", True),
        ("6222-0212-3456-7894", True),
        ("6222021234567890", False),
        ("", False),
        ("12a4", False),
    ],
)
def test_luhn_ok(value: str, valid: bool) -> None:
    assert luhn_ok(value) is valid


def test_luhn_check_digit() -> None:
    assert luhn_check_digit("411111111111111") == "1"
    assert luhn_ok("622848001234567890" + luhn_check_digit("622848001234567890"))
