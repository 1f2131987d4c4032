"""The light fold: what PII recognizers (and NER) read.

Identifiers need their separators and their case, so this view only undoes what hides an
identifier from a pattern, and keeps an offset map back to the original characters.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Sequence

import re2

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

# --- Chinese numerals written digit by digit -------------------------------------------------
# `一三八一二三四五六七八`, `幺三八`, `壹贰叁`, `1三8-一二三四-5678`: a phone number, ID or card
# number spelled in Chinese numerals (or partly in them) to get past a filter. The view reads
# such numerals as digits, one for one, in a run of at least `NUMERAL_RUN_DIGITS` digits and
# numerals (up to two spaces or dashes between two of them) that holds at least
# `NUMERAL_RUN_NUMERALS` numerals, or one with a digit on either side (`138一2345678`: no word
# stands inside a number), or one that ends a run of 17 before an ID's check `X`
# (`1101051949123100二X`). A single numeral at a run's edge stays a word (`张三13800138000`,
# `13812345678一直`, `手机13812345678八。`: read as a digit, it would make the number too long to
# be one; review). Shorter runs and positional numbers
# (`一千二百`, `十一月`) are left alone. Values are Unicode's (`unicodedata.numeric`), with `○`
# (a circle often typed for `〇`) and `两`, which Unicode gives none.
NUMERAL_DIGITS: dict[str, str] = {
    c: str(int(unicodedata.numeric(c))) for c in "〇零一壹幺二贰貳貮兩三叁叄參四肆五伍六陆陸七柒八捌九玖"
} | {"○": "0", "两": "2"}
#: The fewest digits and numerals in a run the view reads: as many as the phone matcher's
#: shortest candidate has characters (`phone.CANDIDATE`); shorter identifiers are not read.
NUMERAL_RUN_DIGITS = 7
NUMERAL_RUN_NUMERALS = 2
_NUMERAL_CLASS = "".join(f"\\x{{{ord(c):x}}}" for c in NUMERAL_DIGITS)  # RE2 syntax
#: Up to two spaces or dashes (any of the phone matcher's) between two digits of a run.
_RUN_SEPARATORS = "[ \\-\u2010-\u2015\u2212]{0,2}"
_NUMERAL, _DIGIT = f"[{_NUMERAL_CLASS}]", f"[0-9{_NUMERAL_CLASS}]"
#: A numeral next to a digit or another numeral: what every run the view reads as digits has,
#: and most prose does not (`一个`, `第一`, `一千`).
_NUMERAL_PAIR = f"{_NUMERAL}{_RUN_SEPARATORS}{_DIGIT}|[0-9]{_RUN_SEPARATORS}{_NUMERAL}"
#: A maximal run of `NUMERAL_RUN_DIGITS` or more digits and numerals. RE2: linear, and it
#: skips the pairs of prose (`七八个`, `二〇二四年`) without a Python call each.
_NUMERAL_RUN = re2.compile(f"(?:{_DIGIT}{_RUN_SEPARATORS}){{{NUMERAL_RUN_DIGITS - 1},}}{_DIGIT}")
_NUMERAL_TABLE = str.maketrans(NUMERAL_DIGITS)
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


def re2_class(code_points: Iterable[int]) -> str:
    """An RE2 character class of exactly `code_points` (none of them a lone surrogate), as
    ranges: for a set RE2's own classes cannot name (`\\p{Nd}` without ASCII, say)."""
    return "[" + "".join(_re2_range(a, b) for a, b in _ranges(sorted(set(code_points)))) + "]"


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


def numeral_gate() -> str:
    """An RE2 pattern that every text with a run of numerals the view reads as digits
    matches (two digits or numerals side by side, one of them a numeral), plainly written:
    full-width or zero-width characters around them already match `light_fold_class`."""
    return _NUMERAL_PAIR


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
    """`text` with full-width forms and look-alike digits folded (NFKC), format characters
    deleted and runs of Chinese numerals read as digits, but case, separators and other Chinese
    kept; see `LightView` for the way back."""
    if text.isascii():
        return LightView(text, text)
    tables = _get_light_tables()
    parts = tables.finder.split(text)
    if len(parts) == 1:
        return LightView(text, numerals_as_digits(text))
    changed = parts[1::2]  # one character each
    reshaping = not tables.reshaping.isdisjoint(changed)
    parts[1::2] = [tables.changes.get(c, c) for c in changed]
    view = numerals_as_digits("".join(parts))  # one for one: the reshaped positions hold
    return LightView(text, view, _reshaped(parts) if reshaping else ())


def numerals_as_digits(text: str) -> str:
    """`text` with each run of Chinese numerals the view reads as digits written in digits; the
    same object when there is none (`text` must have no lone surrogate: RE2 reads UTF-8)."""
    if len(text) < NUMERAL_RUN_DIGITS:  # one character at a time, as the stream hold-back asks
        return text
    parts, done = [], 0
    for run in _NUMERAL_RUN.finditer(text):
        if _reads_as_number(run.group(), text[run.start() - 1 : run.start()], text[run.end() : run.end() + 1]):
            start, end = run.span()
            parts += [text[done:start], run.group().translate(_NUMERAL_TABLE)]
            done = end
    return "".join([*parts, text[done:]]) if parts else text


def has_numeral_run(data: bytes) -> bool:
    """Whether UTF-8 `data` has a run long enough for `numerals_as_digits` to read (maybe of
    digits alone): a single RE2 pass over bytes already encoded."""
    return _NUMERAL_RUN.search(data) is not None


def _reads_as_number(run: str, before: str, after: str) -> bool:
    """Whether the view reads `run` (digits and numerals, between the characters `before` and
    `after`, "" at the text's edges) as digits: it has enough numerals, or its one numeral
    stands between digits, or, at an edge with no letter beyond it, makes the run an
    identifier's shape (`_WHOLE_IDENTIFIER`: a resident ID's 18 characters or a mobile
    number's 11), which a word beside a number does not (`13812345678一直` is twelve digits,
    `1380013800一直` has 直 after it; review)."""
    numerals = [index for index, c in enumerate(run) if c in NUMERAL_DIGITS]
    if len(numerals) != 1:
        return len(numerals) >= NUMERAL_RUN_NUMERALS
    if 0 < numerals[0] < len(run) - 1:
        return True
    beyond = before if numerals[0] == 0 else after  # a letter there makes the numeral a word's
    if beyond.isalpha() and beyond not in ("X", "x"):
        return False
    digits = run.translate(_NUMERAL_TABLE).translate(_NO_SEPARATORS)
    return _WHOLE_IDENTIFIER.fullmatch(digits + (after if after in ("X", "x") else "")) is not None


#: An 18-character resident ID (its check `X` included when it follows the run), or a mobile
#: number: what an edge numeral must complete to be read as a digit.
_WHOLE_IDENTIFIER = re.compile(r"[0-9]{17}[0-9Xx]|1[3-9][0-9]{9}")
_NO_SEPARATORS = str.maketrans("", "", " -\u2010\u2011\u2012\u2013\u2014\u2015\u2212")


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
