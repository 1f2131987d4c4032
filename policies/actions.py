"""Actions on findings: how a redacted span is rewritten.

Redaction runs once, after every detector, over merged spans, right to left on the original
text, so offsets stay valid and every rewrite can be explained (STYLE habit 1).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from policies.findings import Action, Finding


class RedactStyle(StrEnum):
    """How a redacted span reads: `<EMAIL_ADDRESS>`, `138****5678`, a salted hash, or fixed text."""

    TAG = "tag"
    MASK = "mask"
    HASH = "hash"
    FIXED = "fixed"


@dataclass(frozen=True, slots=True)
class Hit:
    """A finding the policy acted on: which rule took it, and what it does."""

    finding: Finding
    rule: str
    action: Action
    style: RedactStyle = RedactStyle.TAG
    replacement: str = ""


def salted_hash(value: str, salt: bytes, length: int = 12) -> str:
    """A keyed hash of a matched value: joinable across records, not reversible without the salt."""
    return hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()[:length]


def partial_mask(value: str) -> str:
    """Keep the first three and last four characters of a long value, as `138****5678`."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def replacement_for(hit: Hit, value: str, salt: bytes) -> str:
    kind = hit.finding.kind
    if hit.style is RedactStyle.MASK:
        return partial_mask(value)
    if hit.style is RedactStyle.HASH:
        return f"<{kind}:{salted_hash(value, salt, 8)}>"
    if hit.style is RedactStyle.FIXED:
        return hit.replacement
    return f"<{kind}>"


def merge_spans(hits: Sequence[Hit]) -> list[tuple[int, int, Hit]]:
    """Merge overlapping redactions into disjoint spans.

    A merged span is labelled by its strongest finding: highest score, then longest, then the
    earliest in rule order, so `<CN_RESIDENT_ID>` wins over a weaker `<PHONE_NUMBER>` inside it.
    """
    ordered = sorted(hits, key=lambda h: (h.finding.start, -h.finding.end))
    merged: list[tuple[int, int, Hit]] = []
    for hit in ordered:
        start, end = hit.finding.start, hit.finding.end
        if merged and start < merged[-1][1]:
            last_start, last_end, label = merged[-1]
            if _stronger(hit, label):
                label = hit
            merged[-1] = (last_start, max(last_end, end), label)
        else:
            merged.append((start, end, hit))
    return merged


def _stronger(a: Hit, b: Hit) -> bool:
    fa, fb = a.finding, b.finding
    return (fa.score, fa.end - fa.start) > (fb.score, fb.end - fb.start)


def redact_spans(text: str, hits: Sequence[Hit], salt: bytes) -> str:
    """Rewrite every redact hit in `text`; spans are applied right to left on the original."""
    if not hits:
        return text
    pieces: list[str] = []
    cursor = len(text)
    for start, end, hit in reversed(merge_spans(hits)):
        pieces.append(text[end:cursor])
        pieces.append(replacement_for(hit, text[start:end], salt))
        cursor = start
    pieces.append(text[:cursor])
    return "".join(reversed(pieces))
