from __future__ import annotations

import pytest

from policies.actions import Hit, RedactStyle, merge_spans, partial_mask, redact_spans, salted_hash
from policies.findings import Action, Finding


def hit(start: int, end: int, kind: str = "X", score: float = 0.5, style: RedactStyle = RedactStyle.TAG) -> Hit:
    return Hit(Finding("d", kind, "pii", start, end, score, "d.r"), "rule", Action.REDACT, style, "[gone]")


@pytest.mark.parametrize(
    ("text", "hits", "expected"),
    [
        ("call 13812345678 now", [hit(5, 16, "CN_MOBILE")], "call <CN_MOBILE> now"),
        ("call 13812345678 now", [hit(5, 16, "CN_MOBILE", style=RedactStyle.MASK)], "call 138****5678 now"),
        ("a x b", [hit(2, 3, style=RedactStyle.FIXED)], "a [gone] b"),
        ("ab", [], "ab"),
        # overlapping spans merge; the stronger finding names the merged span
        ("id 11010519491231002X", [hit(3, 14, "PHONE_NUMBER", 0.4), hit(3, 21, "CN_RESIDENT_ID", 1.0)],
         "id <CN_RESIDENT_ID>"),
        ("xx yy", [hit(0, 2, "A"), hit(3, 5, "B")], "<A> <B>"),
        ("abcdef", [hit(0, 3, "A"), hit(2, 6, "B", 0.9)], "<B>"),
    ],
)
def test_redact_spans(text: str, hits: list[Hit], expected: str) -> None:
    assert redact_spans(text, hits, b"salt") == expected


def test_hash_style_is_keyed_and_stable() -> None:
    text = "mail a@b.co"
    out = redact_spans(text, [hit(5, 11, "EMAIL_ADDRESS", style=RedactStyle.HASH)], b"s1")
    assert out == f"mail <EMAIL_ADDRESS:{salted_hash('a@b.co', b's1', 8)}>"
    assert salted_hash("a@b.co", b"s1") != salted_hash("a@b.co", b"s2")
    assert "a@b.co" not in out


@pytest.mark.parametrize(("value", "masked"), [("13812345678", "138****5678"), ("12345678", "********")])
def test_partial_mask(value: str, masked: str) -> None:
    assert partial_mask(value) == masked


def test_merge_spans_is_disjoint_and_ordered() -> None:
    merged = merge_spans([hit(5, 9), hit(0, 2), hit(1, 3), hit(8, 10)])
    assert [(s, e) for s, e, _ in merged] == [(0, 3), (5, 10)]
