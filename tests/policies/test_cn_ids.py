"""Chinese identifier recognizers: spans in Chinese and English text, look-alikes, prefilters."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import re2
from presidio_analyzer import PatternRecognizer, RecognizerResult

from policies.detectors.cn_checksums import (
    hk_id_check_char,
    luhn_check_digit,
    organization_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)
from policies.detectors.cn_ids import (
    CONTEXT_AFTER,
    CONTEXT_BEFORE,
    ENTITIES,
    MAX_MATCH_CHARS,
    PREFILTERS,
    chinese_recognizers,
)

RECOGNIZERS: dict[str, PatternRecognizer] = {
    recognizer.supported_entities[0]: recognizer for recognizer in chinese_recognizers()
}
FLAG = 0.4  # a finding above this counts; look-alikes must stay at or below it


def resident_id(region: str, birth: str, sequence: str) -> str:
    body = region + birth + sequence
    return body + resident_id_check_char(body)


def uscc(body: str) -> str:
    return body + uscc_check_char(body)


def organization_code(body: str) -> str:
    return body + organization_code_check_char(body)


def hk_id(prefix: str, digits: str) -> str:
    return f"{prefix}{digits}({hk_id_check_char(prefix, digits)})"


def card(body: str) -> str:
    return body + luhn_check_digit(body)


def grouped(digits: str, separator: str = " ") -> str:
    return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))


def wrong_last(value: str) -> str:
    """`value` with its check character replaced by a different digit."""
    return value[:-1] + ("1" if value[-1] != "1" else "2")


TOMORROW = (date.today() + timedelta(days=1)).strftime("%Y%m%d")
ID_GZ = resident_id("440106", "19851120", "123")
ID_DIGITS = next(value for n in range(100) if (value := resident_id("320106", "20000229", f"{n:03d}"))[-1] != "X")
CARD_16 = card("622202123456789")
CARD_19 = card("622848001234567890")
CARD_VISA = card("411111111111111")
CARD_62_BAD = wrong_last(CARD_16)
USCC_DIGITS = next(
    value for n in range(1000) if (value := uscc(f"91110108{organization_code(f'72260{n:03d}')}"))[-1].isdigit()
)

# (entity, text, the values the recognizer must find, lowest acceptable score)
POSITIVES: list[tuple[str, str, tuple[str, ...], float]] = [
    ("CN_RESIDENT_ID", "我的身份证号是11010519491231002X，请核对", ("11010519491231002X",), 1.0),
    ("CN_RESIDENT_ID", f"ID card: {ID_GZ} (Guangzhou)", (ID_GZ,), 1.0),
    ("CN_RESIDENT_ID", "身份证 110105 19491231 002X。", ("110105 19491231 002X",), 1.0),
    ("CN_RESIDENT_ID", "证件号码11010519491231002x", ("11010519491231002x",), 1.0),
    ("CN_RESIDENT_ID", f"两人：{ID_GZ}、{ID_DIGITS}", (ID_GZ, ID_DIGITS), 1.0),
    ("CN_RESIDENT_ID", "travellers with 11010519491231002X booked", ("11010519491231002X",), 1.0),
    ("CN_RESIDENT_ID", "旧身份证130503670401001已作废", ("130503670401001",), 0.9),
    # Foreigners' permanent-residence ID (2023): 9, province 31, nationality 840.
    ("CN_RESIDENT_ID", "外国人永久居留身份证号码：931840198503071231", ("931840198503071231",), 1.0),
    ("CN_RESIDENT_ID", "Permanent residence ID 931840198503071231 (Shanghai)", ("931840198503071231",), 1.0),
    ("CN_RESIDENT_ID", "legacy 130503670401001", ("130503670401001",), 0.5),
    ("CN_MOBILE", "我的手机号是13800138000，请联系", ("13800138000",), 1.0),
    ("CN_MOBILE", "联系方式：138 0013 8000。", ("138 0013 8000",), 1.0),
    ("CN_MOBILE", "call me at +86 138-0013-8000 tomorrow", ("+86 138-0013-8000",), 1.0),
    ("CN_MOBILE", "Reach 0086 15912345678 after 5pm", ("0086 15912345678",), 0.6),
    ("CN_MOBILE", "微信(+86)18612345678", ("(+86)18612345678",), 1.0),
    ("CN_MOBILE", "号码8613912345678无人接听", ("8613912345678",), 0.6),
    ("CN_MOBILE", "两个号码13800138000 19912345678", ("13800138000", "19912345678"), 0.6),
    ("CN_MOBILE", "+86 199 1234 5678", ("+86 199 1234 5678",), 0.6),
    ("CN_LANDLINE", "办公电话010-12345678，分机", ("010-12345678",), 0.9),
    ("CN_LANDLINE", "Call (0755) 8765 4321 today", ("(0755) 8765 4321",), 0.9),
    ("CN_LANDLINE", "杭州0571-87654321", ("0571-87654321",), 0.5),
    ("CN_LANDLINE", "office +86 10 1234 5678.", ("+86 10 1234 5678",), 0.6),
    ("CN_LANDLINE", "总机（0755）87654321", ("（0755）87654321",), 0.9),
    ("CN_LANDLINE", "fax 0086-(0755)-8765-4321", ("0086-(0755)-8765-4321",), 1.0),
    ("CN_LANDLINE", "座机075587654321", ("075587654321",), 0.7),
    ("CN_BANK_CARD", f"我的银行卡号是{CARD_16}，谢谢", (CARD_16,), 1.0),
    ("CN_BANK_CARD", f"please pay {grouped(CARD_16)} today", (grouped(CARD_16),), 0.85),
    ("CN_BANK_CARD", f"UnionPay {grouped(CARD_19, '-')}", (grouped(CARD_19, "-"),), 1.0),
    ("CN_BANK_CARD", f"转账到{CARD_19}", (CARD_19,), 0.85),
    ("CN_BANK_CARD", f"银行卡 {CARD_62_BAD}", (CARD_62_BAD,), 0.75),
    ("CN_BANK_CARD", f"信用卡{grouped(CARD_VISA)}", (grouped(CARD_VISA),), 0.7),
    ("CN_BANK_CARD", "卡号：1234567812345678", ("1234567812345678",), 0.5),
    ("CN_USCC", "统一社会信用代码：91350100M000100Y43。", ("91350100M000100Y43",), 1.0),
    ("CN_USCC", "Company 91110000600037341L registered", ("91110000600037341L",), 1.0),
    ("CN_USCC", f"税号{USCC_DIGITS}", (USCC_DIGITS,), 1.0),
    ("CN_USCC", "code 91350100m000100y43.", ("91350100m000100y43",), 1.0),
    # Registered at national level: region 100000 (found by review).
    ("CN_USCC", "统一社会信用代码：11100000MB0143028R", ("11100000MB0143028R",), 1.0),
    ("CN_USCC", "credit code 12100000400000624D of the institute", ("12100000400000624D",), 1.0),
    ("CN_RESIDENT_ID", "身份证 1101 0519 4912 3100 2X", ("1101 0519 4912 3100 2X",), 1.0),  # found by review
    ("CN_LANDLINE", "电话：010-87654321-8001", ("010-87654321",), 0.9),  # an extension after it
    ("CN_LANDLINE", "总机 0755-8765-4321-123", ("0755-8765-4321",), 0.9),
    ("CN_MOBILE", "13812345678-13987654321", ("13812345678", "13987654321"), 0.6),  # two whole numbers
    ("CN_MOBILE", "Room 101-13812345678", ("13812345678",), 0.6),  # a whole mobile after a short group
    ("CN_MOBILE", "手机 138-1234-5678-0000", ("138-1234-5678",), 1.0),  # a group after it (fourth review)
    ("CN_LANDLINE", "Tel: 0755-8765-4321-1234", ("0755-8765-4321",), 0.9),  # an extension of four
    # Groups of a longer number are not numbers (below); these are (fifth review).
    ("CN_LANDLINE", "电话 0755 8765 4321", ("0755 8765 4321",), 0.9),
    ("CN_LANDLINE", "call 010 8765 4321", ("010 8765 4321",), 0.9),
    ("CN_LANDLINE", "Tel-0755-87654321", ("0755-87654321",), 0.9),  # letters alone are not a group
    ("CN_LANDLINE", "电话 0755 8765 4321 / 0755 8765 1234", ("0755 8765 4321", "0755 8765 1234"), 0.9),
    ("CN_LANDLINE", "邮编 518000 0755-87654321", ("0755-87654321",), 0.5),  # spaced: only if it is spaced too
    ("CN_MOBILE", "手机 138 1234 5678", ("138 1234 5678",), 1.0),
    ("CN_MOBILE", "手机（+86）138 1234 5678", ("（+86）138 1234 5678",), 1.0),  # full-width brackets, as typed
    ("CN_MOBILE", "Mobile: (86) 13812345678", ("(86) 13812345678",), 1.0),
    ("CN_MOBILE", "Room 101 13812345678", ("13812345678",), 0.6),
    ("CN_RESIDENT_ID", "身份证 110105-19491231-002X", ("110105-19491231-002X",), 1.0),
    # Grouped as a phone number is: the region code whole or halved, then fours.
    ("CN_RESIDENT_ID", "身份证号 110105 1949 1231 002X，谢谢", ("110105 1949 1231 002X",), 1.0),
    ("CN_RESIDENT_ID", "My ID card is 110 105 1949 1231 002X.", ("110 105 1949 1231 002X",), 1.0),
    ("CN_RESIDENT_ID", "证件号 110-105-1949-1231-002X", ("110-105-1949-1231-002X",), 1.0),
    ("CN_PASSPORT", "护照号码E12345678，有效期十年", ("E12345678",), 0.65),
    ("CN_PASSPORT", "passport: EA1234567", ("EA1234567",), 0.65),
    ("CN_PASSPORT", "我的护照是G87654321", ("G87654321",), 0.65),
    ("CN_PASSPORT", "公务护照P1234567", ("P1234567",), 0.5),
    ("CN_HKMO_PERMIT", "往来港澳通行证C12345678", ("C12345678",), 0.65),
    ("CN_HKMO_PERMIT", "my exit-entry permit is CA1234567.", ("CA1234567",), 0.65),
    ("CN_HKMO_PERMIT", "回乡证H12345678", ("H12345678",), 0.5),
    # English puts more words between the context word and the number (found by review).
    ("CN_PASSPORT", "My passport number is E12345678.", ("E12345678",), 0.65),
    ("CN_PASSPORT", "Please write down your passport number: G12345678", ("G12345678",), 0.65),
    ("CN_HKMO_PERMIT", "My Home Return Permit number is H12345678.", ("H12345678",), 0.5),
    ("CN_HKMO_PERMIT", "my HK/Macau travel permit number is C12345678", ("C12345678",), 0.65),
    ("HK_ID", "香港身份证号A123456(3)，", ("A123456(3)",), 1.0),
    ("HK_ID", "HKID: AB987654(3)", ("AB987654(3)",), 1.0),
    ("HK_ID", "my id card is E364912(5).", ("E364912(5)",), 1.0),
    ("HK_ID", f"号码{hk_id('G', '123456')}", (hk_id("G", "123456"),), 1.0),
    ("HK_ID", "身份证D288754（2）", ("D288754（2）",), 1.0),
    ("HK_ID", "HKID A123456 (3) please", ("A123456 (3)",), 1.0),  # a space before the check digit
    ("HK_ID", "香港身份证D2887542", ("D2887542",), 0.8),
    ("CN_LICENSE_PLATE", "车牌号京A12345，白色", ("京A12345",), 0.9),
    ("CN_LICENSE_PLATE", "新能源车粤B·D12345停在门口", ("粤B·D12345",), 0.5),
    ("CN_LICENSE_PLATE", "plate 沪A 88888", ("沪A 88888",), 0.9),
    ("CN_LICENSE_PLATE", "京AF12345和粤B12345D", ("京AF12345", "粤B12345D"), 0.5),
    ("CN_LICENSE_PLATE", "粤BD12345", ("粤BD12345",), 0.5),
    ("CN_LICENSE_PLATE", "车牌粤Z1234港", ("粤Z1234港",), 0.9),
]

# (entity, text): nothing above FLAG
NEGATIVES: list[tuple[str, str]] = [
    ("CN_RESIDENT_ID", "身份证号" + wrong_last("11010519491231002X")),
    ("CN_RESIDENT_ID", "身份证号" + resident_id("110105", "19490231", "002")),  # 31 February
    ("CN_RESIDENT_ID", "身份证号" + resident_id("110105", TOMORROW, "002")),  # born tomorrow
    ("CN_RESIDENT_ID", "身份证号" + resident_id("990105", "19491231", "002")),  # no province 99
    ("CN_RESIDENT_ID", "身份证号" + resident_id("110105", "18991231", "002")),  # before 1900
    ("CN_RESIDENT_ID", "身份证号" + resident_id("919840", "19850307", "123")),  # 9, but no province 19
    ("CN_RESIDENT_ID", "身份证号" + resident_id("971840", "19850307", "123")),  # 9, but Taiwan issues none
    ("CN_RESIDENT_ID", "身份证号" + resident_id("931840", "19850230", "123")),  # 9, but 30 February
    ("CN_RESIDENT_ID", "订单号202311271234567890"),
    ("CN_RESIDENT_ID", "身份证号911010519491231002X"),  # inside a longer run
    ("CN_RESIDENT_ID", "身份证号11010519491231002X9"),
    ("CN_RESIDENT_ID", "旧身份证130503670231001"),  # 31 February
    ("CN_RESIDENT_ID", "身份证 110105 19491231 002Y"),
    ("CN_RESIDENT_ID", "身份证 110105 1949 1231 0021"),  # phone-grouped, wrong check digit
    ("CN_RESIDENT_ID", "ID 110 105 1949 0231 0021"),  # phone-grouped, 31 February
    ("CN_MOBILE", "手机12800138000"),  # no 12x range
    ("CN_MOBILE", "手机14000138000"),
    ("CN_MOBILE", "手机138001380001"),
    ("CN_MOBILE", "手机1380013800"),
    ("CN_MOBILE", "phone v13800138000"),
    ("CN_MOBILE", "金额13800138000.50元"),
    ("CN_MOBILE", "pi 3.13800138000"),
    ("CN_MOBILE", "单号20231127138001380001"),
    ("CN_MOBILE", "身份证11010519491231002X"),
    ("CN_MOBILE", "version 1.3.8.0013.8000"),
    ("CN_MOBILE", "v13.800.138000"),
    ("CN_MOBILE", "138.0013.8000"),
    ("CN_LANDLINE", "电话2023-12345678"),
    ("CN_LANDLINE", "电话010-1234"),
    ("CN_LANDLINE", "电话00-12345678"),
    ("CN_LANDLINE", "version 0.755.87654321"),
    ("CN_LANDLINE", "电话010-00000000"),
    ("CN_LANDLINE", "单号90755876543210"),
    ("CN_BANK_CARD", "1234567812345678"),
    ("CN_BANK_CARD", CARD_VISA),  # Luhn alone is not enough
    ("CN_BANK_CARD", CARD_62_BAD),  # neither is the 62 prefix alone
    ("CN_BANK_CARD", "卡号0000000000000000"),
    ("CN_BANK_CARD", f"银行卡号{ID_DIGITS}"),  # a valid resident ID
    ("CN_BANK_CARD", f"卡号{CARD_16}1234"),  # 20 digits
    ("CN_BANK_CARD", f"卡号{grouped(CARD_16 + '1234')}"),  # 5 groups of 4
    ("CN_BANK_CARD", f"卡号1 {grouped(CARD_16)}"),
    ("CN_BANK_CARD", "订单号202311271234567890"),
    ("CN_USCC", "信用代码" + wrong_last("91350100M000100Y43")),
    ("CN_USCC", "信用代码91350100M000100Y4I"),
    ("CN_USCC", f"信用代码{ID_DIGITS}"),  # a valid resident ID
    ("CN_USCC", "信用代码X91350100M000100Y43"),
    ("CN_USCC", "订单号202311271234567890"),
    ("CN_USCC", "信用代码" + uscc("91100100M000100Y4")),  # region 10 is national only as 100000
    ("CN_USCC", "信用代码" + uscc("94350100M000100Y4")),  # 工商 registers no type 4
    ("CN_USCC", "信用代码" + uscc("91350100M000100Y5")),  # organization code check: Y4, not Y5
    ("CN_LANDLINE", "order 2024-0512-1381-2345"),  # one group of an order number (found by review)
    ("CN_MOBILE", "batch 20240512-138-1234-5678"),
    ("CN_LANDLINE", "order 2024 0512 1381 2345"),  # joined by spaces (fifth review)
    ("CN_LANDLINE", "流水号 2024 0512 3456 7890"),
    ("CN_LANDLINE", "SN: 9F3A-0731-2345-6789"),  # after a group of letters and digits
    ("CN_MOBILE", "batch 20240512 138 1234 5678"),
    ("CN_MOBILE", "SN: 9F3A-138-1234-5678"),
    ("CN_PASSPORT", "E12345678"),  # no context
    ("CN_PASSPORT", "D1234567"),
    ("CN_PASSPORT", "护照E1234567"),
    ("CN_PASSPORT", "护照E123456789"),
    ("CN_PASSPORT", "护照e12345678"),
    ("CN_PASSPORT", "护照XE12345678"),
    ("CN_PASSPORT", "护照E00000000"),
    ("CN_PASSPORT", "护照EI1234567"),
    ("CN_PASSPORT", "passport " + "." * 40 + " E12345678"),  # context too far
    ("CN_HKMO_PERMIT", "C12345678"),
    ("CN_HKMO_PERMIT", "通行证C1234567"),
    ("CN_HKMO_PERMIT", "通行证C123456789"),
    ("CN_HKMO_PERMIT", "通行证C00000000"),
    ("HK_ID", "A123456(4)"),
    ("HK_ID", "香港身份证A123456(4)"),
    ("HK_ID", "ABC123456(7)"),
    ("HK_ID", "A12345(3)"),
    ("HK_ID", "香港身份证A123456 (4)"),  # spaced, wrong check digit
    ("HK_ID", "香港身份证A123456  (3)"),  # two spaces: not one identifier
    ("HK_ID", "a123456(3)"),
    ("HK_ID", "D2887542"),  # bare and no context: 0.4
    ("CN_LICENSE_PLATE", "新ABCDE"),
    ("CN_LICENSE_PLATE", "车牌京I12345"),
    ("CN_LICENSE_PLATE", "车牌京A1234"),
    ("CN_LICENSE_PLATE", "车牌京A1234567"),
    ("CN_LICENSE_PLATE", "车牌京a12345"),
]

# Texts no recognizer may flag.
LOOK_ALIKES = [
    "时间戳1700000000123",
    "timestamp 1700000000 and 1700000000123 ms",
    "订单号202311271234567890",
    "order 202311271234567890 shipped",
    "快递单号SF1234567890123",
    "运单号YT1380013800012345",
    "tracking 9400111899223197428490",
    "单号20231127138001380001",
    "version 1.3.8.0013.8000 / v13.800.138000 / build 13.8001.38000",
    "pi 3.14159265358979323846",
    "uuid 550e8400-e29b-41d4-a716-446655440000",
    "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "金额13800138000.00元",
    "日期 2023-11-27 13:45:00",
    "IP 192.168.100.138",
    "IMEI 490154203237518",
    "订单号 524220161735013889",  # passed the USCC check character (found by review)
    "order 524220161735013889 shipped",
]


def spans(results: list[RecognizerResult]) -> list[tuple[str, int, int]]:
    return sorted((r.entity_type, r.start, r.end) for r in results if r.score > FLAG)


def analyze(entity: str, text: str) -> list[RecognizerResult]:
    results: list[RecognizerResult] = RECOGNIZERS[entity].analyze(text, [entity], None)
    return results


def expected_spans(entity: str, text: str, values: tuple[str, ...]) -> list[tuple[str, int, int]]:
    found = []
    for value in values:
        start = text.index(value)
        found.append((entity, start, start + len(value)))
    return sorted(found)


def windowed(entity: str, text: str) -> list[RecognizerResult]:
    """What `pii.py` does: the RE2 prefilter, then the recognizer on merged windows only."""
    margin = MAX_MATCH_CHARS[entity] + max(CONTEXT_BEFORE, CONTEXT_AFTER)
    windows: list[list[int]] = []
    for match in re2.finditer(PREFILTERS[entity], text):
        start, end = max(0, match.start() - margin), min(len(text), match.end() + margin)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], end)
        else:
            windows.append([start, end])
    results = []
    for start, end in windows:
        for result in analyze(entity, text[start:end]):
            result.start += start
            result.end += start
            results.append(result)
    return results


@pytest.mark.parametrize(("entity", "text", "values", "min_score"), POSITIVES)
def test_finds_exact_spans(entity: str, text: str, values: tuple[str, ...], min_score: float) -> None:
    results = analyze(entity, text)
    assert spans(results) == expected_spans(entity, text, values)
    assert all(r.score >= min_score for r in results if r.score > FLAG)


@pytest.mark.parametrize(("entity", "text"), NEGATIVES)
def test_look_alikes_stay_low(entity: str, text: str) -> None:
    assert spans(analyze(entity, text)) == []


@pytest.mark.parametrize("text", LOOK_ALIKES)
@pytest.mark.parametrize("entity", ENTITIES)
def test_no_recognizer_flags_common_numbers(entity: str, text: str) -> None:
    assert spans(analyze(entity, text)) == []


@pytest.mark.parametrize(
    ("entity", "text", "score"),
    [
        ("CN_BANK_CARD", f"x {CARD_16} x", 0.85),  # 62 + Luhn
        ("CN_BANK_CARD", f"x {CARD_62_BAD} x", 0.35),  # 62 only
        ("CN_BANK_CARD", f"x {CARD_VISA} x", 0.3),  # Luhn only
        ("CN_BANK_CARD", "x 1234567812345678 x", 0.1),
        ("CN_BANK_CARD", "卡号1234567812345678", 0.5),
        ("CN_PASSPORT", "x E12345678 x", 0.25),
        ("CN_PASSPORT", "x D1234567 x", 0.1),
        ("CN_HKMO_PERMIT", "x C12345678 x", 0.25),
        ("HK_ID", "x D2887542 x", 0.4),
        ("HK_ID", "x D288754(2) x", 1.0),
        ("CN_LANDLINE", "x 075587654321 x", 0.3),
        ("CN_LANDLINE", "x 0755-87654321 x", 0.5),
        ("CN_MOBILE", "x 13800138000 x", 0.6),
        ("CN_RESIDENT_ID", "x 130503670401001 x", 0.5),
        ("CN_LICENSE_PLATE", "x 京A12345 x", 0.5),
    ],
)
def test_score_levels(entity: str, text: str, score: float) -> None:
    (result,) = analyze(entity, text)
    assert result.score == pytest.approx(score)


@pytest.mark.parametrize(
    ("entity", "simplified", "traditional"),
    [
        ("CN_PASSPORT", "护照号码：E12345678", "護照號碼：E12345678"),
        ("CN_BANK_CARD", "卡号1234567812345678", "卡號1234567812345678"),
        ("CN_BANK_CARD", "银行卡 1234567812345678", "銀行卡 1234567812345678"),
        ("CN_LANDLINE", "座机 075587654321", "座機 075587654321"),
        ("CN_LANDLINE", "联络 075587654321", "聯絡 075587654321"),
        ("CN_HKMO_PERMIT", "通行证 C12345678", "通行證 C12345678"),
        ("CN_LICENSE_PLATE", "车牌 京A12345", "車牌 京A12345"),
        ("CN_MOBILE", "手机 13800138000", "手機 13800138000"),
        ("CN_MOBILE", "手提电话 13800138000", "手提電話 13800138000"),
    ],
)
def test_context_words_count_in_traditional_characters(entity: str, simplified: str, traditional: str) -> None:
    """Hong Kong, Macau and Taiwan write 護照, 卡號, 座機: the same context words."""
    (boosted,) = analyze(entity, simplified)
    (result,) = analyze(entity, traditional)
    assert result.score == pytest.approx(boosted.score)
    value = traditional[result.start : result.end]
    (bare,) = analyze(entity, f"x {value} x")
    assert result.score > bare.score


@pytest.mark.parametrize("plate", ["粵B12345", "滬A12345", "遼B12345", "粤B1234學", "粵Z1234港"])
def test_plates_with_a_province_in_traditional_characters(plate: str) -> None:
    assert spans(analyze("CN_LICENSE_PLATE", f"車牌 {plate}。")) == [("CN_LICENSE_PLATE", 3, 3 + len(plate))]


def test_context_after_the_match_counts() -> None:
    (result,) = analyze("CN_PASSPORT", "E12345678（护照）")
    assert result.score == pytest.approx(0.65)
    assert result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY]


def test_full_width_digits_need_normalizing_first() -> None:
    assert analyze("CN_MOBILE", "手机１３８００１３８０００") == []


@pytest.mark.parametrize(
    ("entity", "text"),
    [(entity, text) for entity, text, _, _ in POSITIVES]
    + NEGATIVES
    + [(entity, text) for entity in ENTITIES for text in LOOK_ALIKES],
)
def test_prefilter_windows_find_the_same(entity: str, text: str) -> None:
    """Running only on windows around RE2 prefilter hits changes no span and no score."""

    def key(results: list[RecognizerResult]) -> list[tuple[int, int, float]]:
        return sorted((r.start, r.end, round(r.score, 6)) for r in results)

    assert key(windowed(entity, text)) == key(analyze(entity, text))


@pytest.mark.parametrize(("entity", "text", "values", "min_score"), POSITIVES)
def test_prefilter_hits_inside_each_finding(entity: str, text: str, values: tuple[str, ...], min_score: float) -> None:
    hits = [(m.start(), m.end()) for m in re2.finditer(PREFILTERS[entity], text)]
    for _, start, end in expected_spans(entity, text, values):
        assert any(start <= s and e <= end for s, e in hits), (text, hits)
        assert end - start <= MAX_MATCH_CHARS[entity]


@pytest.mark.parametrize(
    ("entity", "longest"),
    [
        ("CN_RESIDENT_ID", "1101 0519 4912 3100 2X"),
        ("CN_MOBILE", "(+86)-138-0013-8000"),
        ("CN_LANDLINE", "0086-(0755)-8765-4321"),
        ("CN_BANK_CARD", grouped(CARD_19, "-")),
        ("CN_USCC", "91350100M000100Y43"),
        ("CN_PASSPORT", "护照E12345678"),
        ("CN_HKMO_PERMIT", "回乡证H1234567801"),
        ("HK_ID", "AB987654 (3)"),
        ("CN_LICENSE_PLATE", "车牌粤B·D12345"),
    ],
)
def test_max_match_chars_bounds_the_longest_form(entity: str, longest: str) -> None:
    (result,) = [r for r in analyze(entity, longest) if r.score > 0]
    assert result.end - result.start == MAX_MATCH_CHARS[entity]


def test_prefilters_compile_into_one_re2_set() -> None:
    options = re2.Options()
    options.never_capture = True
    search_set = re2.Set.SearchSet(options)
    for entity in ENTITIES:
        assert search_set.Add(PREFILTERS[entity]) >= 0
    search_set.Compile()
    assert set(PREFILTERS) == set(MAX_MATCH_CHARS) == set(ENTITIES)


def test_chinese_recognizers_are_fresh_and_complete() -> None:
    first, second = chinese_recognizers(), chinese_recognizers()
    assert [r.supported_entities[0] for r in first] == list(ENTITIES)
    assert len(set(ENTITIES)) == 9
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert all(r.context for r in first)
