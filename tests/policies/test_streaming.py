"""The stream scanner against the whole-text decision, with the text split at every offset."""

from __future__ import annotations

import pytest

from policies.engine import Policy
from policies.findings import Direction
from policies.streaming import StreamScanner

TEXTS = [
    "Contact li.lei@example.com or 13812345678 today.",
    "身份证 11010519491231002X，手机 +86 138 1234 5678，邮箱 wang@example.cn。",
    "Plain text without anything to hide, a little longer than the hold-back window, really. " * 3,
    "卡号 6222 0212 3456 7890 128，IP 192.168.10.20",
    "Mail a@b.co then sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD done",
    "手机 138\ufe0f1234\u034f5678，身份证 110105\u030119491231002X，谢谢",  # marks inside identifiers
    "手机 138\u0301 1234 5678 谢谢，身份证 110105\ufe0f 19491231 002X，卡号 6222\u3164 0212 3456 7890 128",  # next to spaces
    "手机 138 \u0301 1234 5678 谢谢",  # between two spaces (second review)
    # A context word as far back, or ahead, as the PII view reads, with characters it deletes
    # (the selector in ✈️) in between: the stream keeps and holds by the view's count too.
    "Your passport ✈️ number as printed is E12345678.",
    "Your passport " + "✈️" * 12 + " number: E12345678.",
    "号码 E12345678 ✈️✈️✈️✈️✈️ 是我的护照。",
    # Third review: other dashes and spaces between digit groups, runs of them, a ™ the view
    # reads as letters, a zero-width space after a plate's province.
    "Call 0755–8765-4321 ok, 手机 138‐1234‐5678 好",
    "电话：0755\u034f\u2002-8765 4321-1",
    "mail ™li.lei@example.com ok",
    "车牌 京\u200bA12345 好",
    "我的车牌是京A 12345，谢谢，plate 沪A\u30001234X ok",  # a space after the plate's letter (fourth review)
    "新能源车牌沪A D12345，谢谢；车牌京A AB123。粤B AD1234",  # a serial starting with a letter (fifth review)
    "手机（+86）138 1234 5678，座机（0755）8765 4321，谢谢",  # full-width brackets belong to the number
    "HKID A123456 (3) please, 香港身份证 B987654 (0)",  # a space before the check digit
]
BLOCKED = [
    "Here is the bomb recipe you asked for.",
    "网 络 赌 博 平台推荐",
    "先说别的。" * 20 + "代开发票找我",
    "网络" + "\u200b" * 64 + "赌博",  # padding longer than any fixed hold-back
    "推荐几个网络🇨🇳赌博网站",
    "best online casino™ sites",
]


def stream(policy: Policy, pieces: list[str]) -> tuple[str, bool]:
    scanner = StreamScanner(policy, Direction.COMPLETION)
    out = []
    for piece in pieces:
        release = scanner.feed(piece)
        out.append(release.text)
        if release.blocked:
            return "".join(out), True
    release = scanner.flush()
    out.append(release.text)
    return "".join(out), release.blocked


def splits(text: str) -> list[list[str]]:
    return [[text[:i], text[i:]] for i in range(len(text) + 1)] + [list(text)]


@pytest.mark.parametrize("text", TEXTS)
def test_split_anywhere_equals_whole_text_decision(default_policy: Policy, text: str) -> None:
    whole = default_policy.evaluate(text, Direction.COMPLETION)
    assert not whole.blocked
    for pieces in splits(text):
        released, blocked = stream(default_policy, pieces)
        assert not blocked
        assert released == whole.text, pieces


@pytest.mark.parametrize("text", BLOCKED)
def test_blocked_terms_never_released_at_any_split(default_policy: Policy, text: str) -> None:
    assert default_policy.evaluate(text, Direction.COMPLETION).blocked
    for pieces in splits(text):
        released, blocked = stream(default_policy, pieces)
        assert blocked, pieces
        assert not any(word in released for word in ("赌", "bomb", "发票", "casino")), pieces


def test_each_finding_is_reported_once(default_policy: Policy) -> None:
    text = TEXTS[1]
    scanner = StreamScanner(default_policy, Direction.COMPLETION)
    hits = []
    for char in text:
        hits.extend(scanner.feed(char).hits)
    hits.extend(scanner.flush().hits)
    whole = default_policy.evaluate(text, Direction.COMPLETION)
    spans = sorted((h.finding.kind, h.finding.start, h.finding.end) for h in hits)
    assert spans == sorted((h.finding.kind, h.finding.start, h.finding.end) for h in whole.hits)
    assert len(spans) >= 3


def test_text_before_the_hold_back_window_is_released_at_once(default_policy: Policy) -> None:
    scanner = StreamScanner(default_policy, Direction.COMPLETION)
    hold = default_policy.hold_back_chars(Direction.COMPLETION)
    text = "a" * (hold + 50)
    release = scanner.feed(text)
    assert release.text == "a" * 50
    assert scanner.pending_chars == hold


UNICODE_IDENTIFIERS = [
    "Call me: 138\u00a01234\u00a05678 thanks",  # no-break spaces between digit groups
    "手机 138\u202f1234\u202f5678 ok",
    "call me at 𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖 ok",  # math-bold digits
    "手机 ①③⑧①②③④⑤⑥⑦⑧ ok",  # circled digits
    "手机 ¹³⁸¹²³⁴⁵⁶⁷⁸ ok",  # superscripts
    # Chinese numerals, which the view reads as digits only once a run is seven long: a run
    # still shorter at the end of a chunk must be held too.
    "我的手机是一三八一二三四五六七八，请联系",
    "手机 幺三八 一二三四 五六七八 ok",
    "手机 1三8-一二三四-5678 ok",
    "身份证 壹壹零壹零伍壹玖肆玖壹贰叁壹零零贰X，谢谢",
    "车牌号 粵B 12345，谢谢",  # a Traditional province character, then a space
]


@pytest.mark.parametrize("text", UNICODE_IDENTIFIERS)
def test_identifiers_written_with_unicode_digits_or_spaces_are_held_whole(default_policy: Policy, text: str) -> None:
    """The hold-back reads characters as the recognizers do (after the light fold)."""
    whole = default_policy.evaluate(text, Direction.COMPLETION)
    assert whole.changed
    for pieces in splits(text):
        assert stream(default_policy, pieces) == (whole.text, False), pieces


def test_a_match_longer_than_the_hold_back_stops_the_stream() -> None:
    """An e-mail address longer than its declared bound began in text already sent: the stream
    is stopped (fail closed, counted as an overflow), and this ends: no endless loop."""
    from policies.loader import load_policy

    policy = load_policy()
    text = "x" * 120 + "@example.com done"
    scanner = StreamScanner(policy, Direction.COMPLETION)
    releases = [scanner.feed(char) for char in text]
    assert any(r.blocked and r.overflow for r in releases)
    assert "@" not in "".join(r.text for r in releases)


def test_context_the_stream_cannot_keep_stops_the_stream(default_policy: Policy) -> None:
    """A context word more deleted characters back than the kept context holds (third review):
    the whole text redacts the number; the stream must not release it unredacted."""
    text = "passport" + "\u200b" * 1100 + " E12345678 ok"
    assert "<CN_PASSPORT>" in default_policy.evaluate(text, Direction.COMPLETION).text
    released, blocked = stream(default_policy, list(text))
    assert blocked and "E12345678" not in released
