"""How far back from the end of a text a number of characters reach, when some do not count.

A stream holds back, and keeps as context, a number of characters that a detector reads; but
the keyword fold and the PII view delete some characters (zero-width ones, marks, variation
selectors, pictures), however many of them there are. `TailCounter(skipped).start(text, n)`
is where the shortest tail of `text` holding `n` characters outside `skipped` begins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence


class TailCounter:
    """Counts characters back from the end of a text, skipping the code points given."""

    def __init__(self, skipped: Iterable[int]) -> None:
        code_points = sorted(set(skipped))
        self._skipped = frozenset(map(chr, code_points))
        self._ascii_counts = not code_points or code_points[0] >= 0x80
        self._class = char_class(code_points)
        self._finders: dict[int, re.Pattern[str]] = {}

    def start(self, text: str, count: int) -> int:
        """Where the shortest tail of `text` holding `count` characters that are not skipped
        begins; 0 when the text has fewer."""
        if count <= 0:
            return len(text)
        if (self._ascii_counts and text.isascii()) or self._skipped.isdisjoint(text[-count:]):
            return max(0, len(text) - count)  # the usual case: nothing skipped near the end
        match = self._finder(count).match(text[::-1])
        return 0 if match is None else len(text) - match.end()

    def _finder(self, count: int) -> re.Pattern[str]:
        """`count` counted characters, each after any skipped ones, for the reversed text."""
        finder = self._finders.get(count)
        if finder is None:
            finder = self._finders[count] = re.compile(f"(?:[{self._class}]*[^{self._class}]){{{count}}}")
        return finder


def char_class(code_points: Sequence[int]) -> str:
    """The inside of a `re` character class holding exactly `code_points` (sorted)."""
    parts: list[str] = []
    start = previous = -2
    for cp in [*code_points, -1]:
        if cp == previous + 1:
            previous = cp
            continue
        if start >= 0:
            parts.append(re.escape(chr(start)) + ("" if start == previous else "-" + re.escape(chr(previous))))
        start = previous = cp
    return "".join(parts)
