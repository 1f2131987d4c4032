"""Where an identifier may still be being written at the end of a text (for streaming).

Every entity the PII detector knows is written with ASCII letters and digits, a few
punctuation marks, and spaces or dashes between digit groups, as the recognizers read them:
after the light fold, so full-width, math-bold, circled or superscript digits, no-break
spaces and Chinese numerals (which the view reads as digits in a long enough run) count too.
A licence plate also starts with one province character. So the only tail of a text that a
later chunk can turn into (or extend) a match is the trailing run of such characters. Text
before that run can be released; prose ending in other Chinese characters holds back nothing.
"""

from __future__ import annotations

from policies.detectors.cn_ids import PLATE_PROVINCES
from policies.detectors.phone import PUNCTUATION
from policies.light_view import NUMERAL_DIGITS, light_fold

_PUNCTUATION = frozenset("@._%+-:/?#=&~()[]'!$*,;·（）")  # full-width brackets: `（+86）`, `（0755）`
#: What may stand between two digit groups: spaces, dashes, and every other separator the
#: phone matcher reads between digits (en dashes, thin spaces, full-width hyphens ...).
_GROUP_SEPARATORS = frozenset(" -\u3000\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f"
                              "\u2010\u2011\u2012\u2013\u2014\u2015") | (frozenset(PUNCTUATION) - frozenset("x+([（［"))
_PLATE_PROVINCES = frozenset(PLATE_PROVINCES)  # Traditional forms too (`粵B12345`)


def _folded(ch: str) -> str:
    """What the recognizers may see for `ch`: its light fold (𝟏, ①, ¹ read as 1; U+00A0 as a
    space); a Chinese numeral as its digit, as it reads in a run that may still grow."""
    if ch.isascii():
        return ch
    folded = light_fold(ch)  # `㊀`, `⼀` and compatibility ideographs fold to numerals first
    return NUMERAL_DIGITS.get(folded, folded)


def _identifier_char(ch: str) -> bool:
    if not ch.isascii():
        if ch in _PUNCTUATION:
            return True
        ch = _folded(ch)
        if not ch:  # deleted by the light fold (zero-width, a mark): invisible inside a run
            return True
        if not ch.isascii():
            return False
        return all(c.isalnum() or c in _PUNCTUATION for c in ch)  # `™` reads as `TM`
    return ch.isalnum() or ch in _PUNCTUATION


def _separator(ch: str) -> bool:
    return ch in _GROUP_SEPARATORS or _folded(ch) in _GROUP_SEPARATORS


def _digitish(ch: str, end: str = "-") -> bool:
    """A digit or what stands around digit groups; `end` (no character) counts when equal to it."""
    if ch == end:
        return True
    ch = _folded(ch)
    return len(ch) == 1 and (ch.isdigit() or ch in "()+")


def _deleted(ch: str) -> bool:
    """Whether the light fold deletes `ch` (a zero-width character, a mark, a variation selector)."""
    return not ch.isascii() and not _folded(ch)


def _next_kept(text: str, index: int, past_separators: bool = False) -> str:
    """The first character from `index` on that the light fold keeps (and, `past_separators`,
    that is no group separator); "" past the end. A mark or a variation selector next to a
    group space is not what decides where an identifier ends."""
    while index < len(text) and (_deleted(text[index]) or (past_separators and _separator(text[index]))):
        index += 1
    return text[index] if index < len(text) else ""


def trailing_identifier_start(text: str, limit: int) -> int:
    """Start of the trailing identifier run of `text`, looking back at most `limit` characters.

    A space or dash belongs to the run only between digit groups (`138 1234 5678`) or after a
    plate's province and letter (`京A 12345`), or at the very end after either (what follows
    may still come).
    """
    end = len(text)
    lowest = max(0, end - limit)
    i = end
    while i > lowest:
        ch = text[i - 1]
        if _identifier_char(ch):
            i -= 1
            continue
        if _separator(ch):
            # A run of group separators (and what the light fold deletes) between two digits.
            first = i - 1
            while first > lowest and (_separator(text[first - 1]) or _deleted(text[first - 1])):
                first -= 1
            before = text[first - 1] if first > 0 else ""
            plate_head = before.isascii() and before.isalpha() and first > 1 and text[first - 2] in _PLATE_PROVINCES
            following = _next_kept(text, i, past_separators=True)
            if (_digitish(before) and _digitish(following, "")) or (
                plate_head and (not following or (following.isascii() and following.isalnum()))  # 京A D12345
            ):
                i = first
                continue
        break
    following = _next_kept(text, i)
    if i > lowest and text[i - 1] in _PLATE_PROVINCES and (not following or following.isalpha()):
        i -= 1  # a plate's province character: its letter may be next
    return i
