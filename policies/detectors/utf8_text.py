"""A text encoded once for RE2, with match spans reported in characters.

RE2 reads UTF-8. Given a `str`, the `re2` wrapper encodes the whole text again on every
search and converts each match's byte offsets through a few Python calls; a detector that
runs a dozen prefilters over one text pays that a dozen times. Here the text is encoded once,
RE2 searches the bytes, and byte offsets become character offsets by decoding only the bytes
between consecutive matches (nothing at all for an ASCII text).

The search loop asks the compiled RE2 object (`_Regexp._regexp`, the binding of C++
`RE2::Match`) for one span at a time, as the wrapper's own `finditer` does but without
building a match object per hit; if a future wrapper drops that attribute, the public
`finditer` is used instead (`tests/policies/test_utf8_text.py` runs both).
"""

from __future__ import annotations

from collections.abc import Iterator

import re2


class Utf8Text:
    """`text` and its UTF-8 encoding; raises `UnicodeEncodeError` on a lone surrogate."""

    __slots__ = ("ascii", "data", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self.ascii = len(self.data) == len(text)

    def spans(self, pattern: re2._Regexp) -> list[tuple[int, int]]:
        """(start, end) in characters of each match of `pattern`, left to right.

        RE2 matches in UTF-8 mode only start and end on character boundaries, so every slice
        decoded here is whole characters.
        """
        found = byte_spans(pattern, self.data)
        if self.ascii or not found:
            return found
        data, spans = self.data, []
        byte_at = char_at = 0
        for start, end in found:
            char_start = char_at + len(data[byte_at:start].decode("utf-8"))
            char_end = char_start + len(data[start:end].decode("utf-8"))
            byte_at, char_at = end, char_end
            spans.append((char_start, char_end))
        return spans


_UNANCHORED = re2._Anchor.UNANCHORED if hasattr(re2, "_Anchor") else None


def has_match(pattern: re2._Regexp, data: bytes) -> bool:
    """Whether `pattern` matches anywhere in `data`: one call into RE2, no match object."""
    regexp = getattr(pattern, "_regexp", None)
    if regexp is None or _UNANCHORED is None:
        return pattern.search(data) is not None
    start: int = regexp.Match(_UNANCHORED, data, 0, len(data))[0][0]
    return start >= 0


def byte_spans(pattern: re2._Regexp, data: bytes) -> list[tuple[int, int]]:
    """(start, end) in bytes of each match of `pattern` in `data`, left to right; after an
    empty match the search goes on from the next character, as `finditer` on a `str` does."""
    return list(iter_byte_spans(pattern, data))


def iter_byte_spans(pattern: re2._Regexp, data: bytes) -> Iterator[tuple[int, int]]:
    """`byte_spans` one at a time, for a caller that may stop early."""
    regexp = getattr(pattern, "_regexp", None)
    if regexp is not None and _UNANCHORED is not None:
        match = regexp.Match

        def search(pos: int) -> tuple[int, int]:
            span: tuple[int, int] = match(_UNANCHORED, data, pos, size)[0]
            return span
    else:

        def search(pos: int) -> tuple[int, int]:
            found = pattern.search(data, pos)
            return (-1, -1) if found is None else found.span()

    pos, size = 0, len(data)
    while pos <= size:
        start, end = search(pos)
        if start < 0:
            break
        if start < end or not _inside_char(data, start):  # `\B` can match between two bytes of é
            yield start, end
        pos = end if end > start else _next_char(data, end)


def _inside_char(data: bytes, pos: int) -> bool:
    """Whether byte offset `pos` falls between two bytes of one UTF-8 character."""
    return pos < len(data) and 0x80 <= data[pos] < 0xC0


def _next_char(data: bytes, pos: int) -> int:
    """The byte offset of the character after the one at `pos` (past an empty match)."""
    pos += 1
    while pos < len(data) and 0x80 <= data[pos] < 0xC0:
        pos += 1
    return pos
