"""Findings: what a detector saw, as spans on the original text.

Detectors never rewrite text (STYLE habit 1). A finding says *where* and *what*; the policy
decides what to do with it, and `actions.py` rewrites the text once, over merged spans.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class Direction(StrEnum):
    """Which way the text travels: towards the model, or back from it."""

    PROMPT = "prompt"
    COMPLETION = "completion"


class Action(StrEnum):
    """What a rule does with a finding, ordered from mildest to strongest by `SEVERITY`."""

    ALLOW = "allow"
    MONITOR = "monitor"
    REDACT = "redact"
    BLOCK = "block"


SEVERITY: dict[Action, int] = {Action.ALLOW: 0, Action.MONITOR: 1, Action.REDACT: 2, Action.BLOCK: 3}


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected span ``text[start:end]``.

    `rule` is the id of the detector-level rule that produced it (a pattern id, a lexicon id,
    a recognizer's entity), so every decision can be explained without the matched text.
    """

    detector: str
    kind: str
    category: str
    start: int
    end: int
    score: float
    rule: str

    def shifted(self, offset: int) -> Finding:
        """The same finding for text that starts `offset` characters later."""
        return replace(self, start=self.start + offset, end=self.end + offset)

    def overlaps(self, other: Finding) -> bool:
        return self.start < other.end and other.start < self.end
