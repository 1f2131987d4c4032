"""The light fold: what PII recognizers (and NER) read.

Identifiers need their separators and their case, so this view only undoes what hides an
identifier from a pattern, and keeps an offset map back to the original characters.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence

from policies.char_tails import TailCounter
from policies.ignorable import DEFAULT_IGNORABLE

# --- The light fold: what PII recognizers read ---------------------------------------------
# Identifiers need their separators and their case, so this fold only undoes what hides an
# identifier from a pattern: NFKC per character (full-width `１３８`, `＠`, math-bold digits,
# the ideographic space), deletion of what renders as nothing -- format characters (Cf:
# zero-width, bidi, soft hyphen, BOM), combining marks and variation selectors (Mn, Me: a
# `\u0301` or `\ufe0f` after a digit), every other default-ignorable code point (Hangul
# fillers, unassigned U+2065) -- and U+FFFD for lone surrogates (RE2
# cannot read them). No case folding, no separator removal, no Traditional -> Simplified.
# Chinese sentence punctuation that NFKC would turn into ASCII is kept as it is: no identifier
# contains it, and it is in nearly every Chinese text, which would otherwise never be "clean"
# and always pay for building the view.
LIGHT_KEPT = frozenset("，！？；：（）…")
_SURROGATES = (0xD800, 0xDFFF)
_ASTRAL = 0x10000
# Code points with a compatibility mapping or category Cf all lie below this or in plane 14.
_LIGHT_RANGES = ((0, 0x30000), (0xE0000, 0xE1000))


def _light_fold_char(ch: str) -> str:
    if _SURROGATES[0] <= ord(ch) <= _SURROGATES[1]:
        return "\ufffd"
    if ch in LIGHT_KEPT:
        return ch
    text = ch
    for _ in range(4):  # to a fixed point, so that the view of a view is itself
        again = "".join(c for c in unicodedata.normalize("NFKC", text) if not _renders_as_nothing(c))
        if again == text:
            break
        text = again
    return text


#: Categories the light fold deletes, with every default-ignorable code point: they render as
#: nothing (or only change the look of the character before them), so they can hide inside an
#: identifier unseen.
_DELETED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


def _renders_as_nothing(ch: str) -> bool:
    return unicodedata.category(ch) in _DELETED_CATEGORIES or ord(ch) in DEFAULT_IGNORABLE


class _LightTables:
    """The characters the light fold changes, and finders for them (stdlib `re` and RE2)."""

    def __init__(self) -> None:
        self.changes: dict[str, str] = {}
        for begin, end in _LIGHT_RANGES:
            for cp in range(begin, end):
                folded = _light_fold_char(chr(cp))
                if folded != chr(cp):
                    self.changes[chr(cp)] = folded
        self.reshaping = frozenset(c for c, folded in self.changes.items() if len(folded) != 1)
        ranges = _ranges(sorted(map(ord, self.changes)))
        # Capturing, so that `split` returns the characters to look up at the odd indices. Every
        # astral character is looked up (most fold to themselves): with a hundred exact astral
        # ranges, `re` tests each range for every character and is 25 times slower.
        bmp = "".join(_re_range(a, min(b, _ASTRAL - 1)) for a, b in ranges if a < _ASTRAL)
        self.finder = re.compile(f"([{bmp}{_re_range(_ASTRAL, 0x10FFFF)}])")
        outside = [(a, b) for a, b in ranges if not _SURROGATES[0] <= a <= _SURROGATES[1]]  # RE2 cannot
        self.re2_class = "[" + "".join(_re2_range(a, b) for a, b in outside) + "]"
        self.kept = TailCounter(ord(c) for c, folded in self.changes.items() if not folded)


def _ranges(code_points: list[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for cp in code_points:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return ranges


def _re_range(first: int, last: int) -> str:
    return re.escape(chr(first)) + ("" if first == last else "-" + re.escape(chr(last)))


def _re2_range(first: int, last: int) -> str:
    return f"\\x{{{first:x}}}" + ("" if first == last else f"-\\x{{{last:x}}}")


_light_tables: _LightTables | None = None
_tables_lock = threading.Lock()


def _get_light_tables() -> _LightTables:
    global _light_tables
    if _light_tables is None:
        with _tables_lock:
            if _light_tables is None:
                _light_tables = _LightTables()
    return _light_tables


def kept_tail_start(text: str, count: int) -> int:
    """Where the shortest tail of `text` holding `count` characters that the light view keeps
    begins (0 when it has fewer): how far back `count` characters of the view reach in the
    original, whatever marks or zero-width characters stand between them."""
    return _get_light_tables().kept.start(text, count)


def light_fold_class() -> str:
    """An RE2 character class of every character `light_view` changes, lone surrogates aside
    (RE2 cannot be given those): a detector with an RE2 pass anyway can add it to that pass
    and learn for free whether a text needs a view at all."""
    return _get_light_tables().re2_class


class LightView:
    """The light fold of one text, and the way back to the original's characters.

    Most texts need no folding, and most folds replace characters one for one: then the view's
    positions are the original's and nothing is stored. Only characters whose fold is not one
    character long (deleted format characters, expansions such as `㎏` -> `kg`) are recorded,
    each as (its output's start in the view, its index in the original, its output length).
    """

    __slots__ = ("_lengths", "_origins", "_starts", "original", "text")

    def __init__(self, original: str, text: str, reshaped: Sequence[tuple[int, int, int]] = ()) -> None:
        self.original = original
        self.text = text
        self._starts = [start for start, _, _ in reshaped]
        self._origins = [origin for _, origin, _ in reshaped]
        self._lengths = [length for _, _, length in reshaped]

    @property
    def identity(self) -> bool:
        """Whether every position of the view is the same position of the original."""
        return not self._starts

    def original_index(self, index: int) -> int:
        """Index in the original of the character that produced ``text[index]``."""
        entry = bisect_right(self._starts, index) - 1
        if entry < 0:
            return index
        start, length = self._starts[entry], self._lengths[entry]
        if index < start + length:  # inside an expansion
            return self._origins[entry]
        return self._origins[entry] + 1 + index - start - length

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of view span ``[start, end)`` (``end > start``): from the first to
        the last original character that produced it, with what was deleted in between."""
        if not self._starts:
            return start, end
        return self.original_index(start), self.original_index(end - 1) + 1


def light_view(text: str) -> LightView:
    """`text` with full-width forms and look-alike digits folded (NFKC) and format characters
    deleted, but case, separators and Chinese kept; see `LightView` for the way back."""
    if text.isascii():
        return LightView(text, text)
    tables = _get_light_tables()
    parts = tables.finder.split(text)
    if len(parts) == 1:
        return LightView(text, text)
    changed = parts[1::2]  # one character each
    reshaping = not tables.reshaping.isdisjoint(changed)
    parts[1::2] = [tables.changes.get(c, c) for c in changed]
    view = "".join(parts)
    return LightView(text, view, _reshaped(parts) if reshaping else ())


def light_fold(text: str) -> str:
    """The light view's text alone."""
    return light_view(text).text


def _reshaped(parts: list[str]) -> list[tuple[int, int, int]]:
    """(view start, original index, view length) of each folded part not one character long;
    `parts` alternates unchanged runs and folded single characters, as `light_view` makes it."""
    reshaped: list[tuple[int, int, int]] = []
    origin = position = 0
    for index, part in enumerate(parts):
        if index % 2 and len(part) != 1:
            reshaped.append((position, origin, len(part)))
        origin += 1 if index % 2 else len(part)
        position += len(part)
    return reshaped
