"""The normalized view of a text that keyword matching runs on, and the way back.

`fold` maps every character on its own (never looking at its neighbours) through one table:

1. NFKC (full-width to half-width, ligatures, circled / math-bold / super-script letters),
2. casefold (``ß`` -> ``ss``),
3. accent folding: NFKD, drop combining marks (category Mn), recompose with NFC,
4. Traditional -> Simplified Chinese, one character at a time, from OpenCC's ``t2s`` data,
5. Latin letters that Unicode only spells out in their name (``🅰``, ``ʙ``, ``🇦``) -> ASCII,
6. deletion of everything that is not a letter or a digit: whitespace, controls, punctuation
   (P*), symbols (S*), marks (Mn, Me), format characters (Cf: zero-width, bidi, soft hyphen),
   lone surrogates, every default-ignorable code point (Hangul fillers, variation selectors,
   unassigned ones such as U+2065 and plane 14: `policies.ignorable`), the quote-like
   modifier letters of U+02B0-U+02FF (``ʼ``) and the unassigned planes 4-13.

The steps are repeated until nothing changes, so ``fold(fold(t)) == fold(t)``. Because the
fold is per character, each character of the folded text comes from exactly one character
of the original, which is what `fold_with_offsets` and `OffsetMap` record.

The table is a list indexed by code point and is built once, on first use (~0.5 s), because
`str.translate` with a list is the fastest per-character mapping the standard library has.

`light_view` is a second, much lighter fold for detectors that need separators and case (PII
patterns): NFKC and the deletion of format characters only. See the end of this module.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from itertools import chain, compress, repeat
from typing import Any

import opencc
import re2

from policies.char_tails import TailCounter, char_class
from policies.ignorable import DEFAULT_IGNORABLE

# Categories whose characters carry no letters or digits: deleted by the fold.
_DELETED_CATEGORIES = frozenset(
    {"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"}
    | {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"}
)
# Deleted characters that take no room on screen. They do not count towards the gap
# allowed between the characters of a keyword (see `visible_separator_count`).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cs", "Mn", "Me"})
# Deleted pictures (emoji, dingbats, skin tones): they part words, but do not count towards
# a keyword's gap either (see `gap_count`): `网👨‍👩‍👧‍👦络` is one picture of seven code points.
_PICTURE_CATEGORIES = frozenset({"So", "Sk"})
# Symbols and numbers that are not digits (superscripts, circled numbers, fractions): where
# they fold to letters or digits, they may be a spelling (`🇧 🇦 🇩`) or a decoration (`™`).
_SYMBOL_CATEGORIES = frozenset({"So", "Sk", "No"})
# Letters drawn as emoji (🅰 🅱 🅾 🅿 Ⓜ ℹ): as often a decoration (`casino🅾️`) as a spelling, a
# kind of their own. Other letters of the Letterlike Symbols block (ℂ ℯ ℴ ℛ) are letters:
# "fancy text" generators fill the gaps of the math alphabets with them (review: read as
# decorations with ™, `ℂ𝕒𝕤𝕚𝕟𝕠™` got past, and `𝒜𝓈𝓈ℯ𝓉` held `ass`).
_EMOJI_LETTERS = frozenset({0x1F170, 0x1F171, 0x1F17E, 0x1F17F, 0x24C2, 0x2139})
# Symbols that are a Latin letter in a frame (ⓐ ⒜ 🄰): they spell, whatever stands around them.
_SPELLING_SYMBOL = re.compile(r"\bLATIN (?:CAPITAL |SMALL )?LETTER [A-Z]$")
# What a decoration reads as in the second keyword scan: a picture, which parts words but does
# not count towards a term's gap, so `网络🇨🇳🇺🇸赌博` and `on™™line` still hit.
_DECORATION = "\u25c6"
_HANGUL_SYLLABLES = (0xAC00, 0xD7A3)
_TABLE_END = 0xE1000  # past the last default-ignorable (plane 14); higher code points fold to themselves
_PLANE_4, _PLANE_14 = 0x40000, 0xE0000  # planes 4-13 have nothing assigned: deleted
_CJK_RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x323AF))
# Names of Latin letters NFKC leaves alone: NEGATIVE SQUARED LATIN CAPITAL LETTER A (🅰),
# LATIN LETTER SMALL CAPITAL B (ʙ), REGIONAL INDICATOR SYMBOL LETTER C (🇨).
# Also letters with a stroke, bar or hook, which have no decomposition to drop it from
# (LATIN SMALL LETTER O WITH STROKE: ø, ħ, ɨ, ł, đ), and the dotless ı.
_LATIN_ALIAS = re.compile(
    r"(?:^|\s)(?:LATIN (?:CAPITAL |SMALL )?LETTER (?:SMALL CAPITAL |DOTLESS )?"
    r"|REGIONAL INDICATOR SYMBOL LETTER )([A-Z])(?: WITH [A-Z ]+)?$"
)
# CJK Radicals Supplement: forms of a radical that stand for its character (⻢ for 马, ⻚ for 页).
# NFKC maps two of them; the rest are matched by name to the Kangxi radical that NFKC maps to
# its ideograph (CJK RADICAL C-SIMPLIFIED HORSE -> KANGXI RADICAL HORSE -> 馬), and the
# Traditional -> Simplified step does the rest (馬 -> 马). Forms no Kangxi name matches (⺅,
# ⺀) stay symbols.
_RADICALS_SUPPLEMENT = (0x2E80, 0x2EFF)
_KANGXI_RADICALS = (0x2F00, 0x2FDF)
_RADICAL_FORM = re.compile(r"^CJK RADICAL (?:[CJ]-)?(?:SIMPLIFIED )?(.+?)(?: ONE| TWO| THREE| FOUR)?$")
_SPACING_MODIFIERS = (0x02B0, 0x02FF)  # what NFKC leaves of this block is quote-like marks
_ALIAS_CATEGORIES = frozenset({"So", "Ll", "Lu", "Lt", "Lm"})
_PAST_TABLE = re.compile("[^\x00-\x7f]")

FoldTable = list[int | str | None]


class _Tables:
    """Everything derived from the Unicode and OpenCC data, built together once."""

    def __init__(self) -> None:
        t2s = _t2s_map()
        self.fold: FoldTable = list(range(_TABLE_END))
        invisible: set[int] = set(DEFAULT_IGNORABLE)
        latin: set[str] = set()
        for cp in range(_TABLE_END):
            if _PLANE_4 <= cp < _PLANE_14:
                self.fold[cp] = None
                continue
            ch = chr(cp)
            category = unicodedata.category(ch)
            if category in _INVISIBLE_CATEGORIES:
                invisible.add(cp)
            if category[0] == "L" and cp >= 0x80 and unicodedata.name(ch, "").startswith("LATIN"):
                latin.add(ch)
            folded = _fold_char(ch, t2s)
            if folded != ch:
                self.fold[cp] = folded or None
        self.invisible = frozenset(invisible)
        # Symbols that fold to letters or digits (™ -> tm, ① -> 1, 🇨 -> c, ⓐ -> a), by kind:
        # each may spell or decorate, see `symbol_readings`.
        symbol_letters = [
            cp for cp in range(0x80, _TABLE_END)
            if isinstance(self.fold[cp], str)
            and (unicodedata.category(chr(cp)) in _SYMBOL_CATEGORIES or cp in _EMOJI_LETTERS)
        ]
        kinds: dict[str, list[int]] = {
            "flag letter": [], "emoji letter": [], "framed letter": [], "number": [], "symbol": []}
        for cp in symbol_letters:
            name = unicodedata.name(chr(cp), "")
            kind = ("flag letter" if name.startswith("REGIONAL INDICATOR")
                    else "emoji letter" if cp in _EMOJI_LETTERS
                    else "framed letter" if _SPELLING_SYMBOL.search(name)
                    else "number" if unicodedata.category(chr(cp)) == "No" else "symbol")
            kinds[kind].append(cp)
        self.symbol_kinds = [dict.fromkeys(cps, _DECORATION) for cps in kinds.values()]
        # Finders for RE2 on UTF-8 (several times faster than `re` on CJK text), for any of
        # them and for each kind; `re` for a text RE2 cannot be given (a lone surrogate).
        options = re2.Options()
        options.never_capture = True

        def finder(cps: Sequence[int]) -> Any:
            return re2.compile("[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]", options)

        self.symbol_letter_finder_utf8 = finder(symbol_letters)
        self.symbol_letter_chars = frozenset(map(chr, symbol_letters))
        self.symbol_kind_finders_utf8 = [finder(cps) for cps in kinds.values()]
        self.symbol_letter_finder = re.compile(f"[{char_class(symbol_letters)}]")
        self.symbol_kind_finders = [re.compile(f"[{char_class(cps)}]") for cps in kinds.values()]
        pictures = frozenset(
            cp for cp in range(0x80, _TABLE_END)
            if self.fold[cp] is None and unicodedata.category(chr(cp)) in _PICTURE_CATEGORIES
        )
        self.uncounted_deleted: dict[int, None] = dict.fromkeys(frozenset(invisible) | pictures)
        # For the stream hold-back, a carriage return counts for nothing: `gap_count` counts one
        # only where no `\n` follows it, so the hold-back never counts more than a gap does.
        self.uncounted = frozenset(invisible) | pictures | {ord("\r")}
        self.latin_letters = frozenset(c for c in latin if fold(c, self.fold) == c)
        # How many folded characters each code point becomes, as a character ('\x00'..'\x12'):
        # translating a text with it gives the per-character lengths at C speed.
        self.lengths: list[int] = [
            1 if isinstance(item, int) else 0 if item is None else len(item) for item in self.fold
        ]


_tables: _Tables | None = None
_tables_lock = threading.Lock()


def _get_tables() -> _Tables:
    global _tables
    if _tables is None:
        with _tables_lock:
            if _tables is None:
                _tables = _Tables()
    return _tables


@functools.cache
def _t2s_map() -> dict[str, str]:
    """OpenCC's Traditional -> Simplified mapping for single characters.

    Every CJK code point goes through the converter at once, one per line, so its phrase
    rules never apply and the result is what the converter does to a character on its own.
    """
    chars = [chr(cp) for start, end in _CJK_RANGES for cp in range(start, end + 1)]
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):
        raise RuntimeError("OpenCC t2s changed the number of lines; cannot build the fold table")
    return {c: s for c, s in zip(chars, converted, strict=True) if c != s}


@functools.cache
def _traditional_forms() -> dict[str, str]:
    """Each Simplified character -> the characters OpenCC's t2s folds to it (`证` -> `証證`)."""
    forms: dict[str, str] = {}
    for traditional, simplified in _t2s_map().items():
        if len(simplified) == 1:
            forms[simplified] = forms.get(simplified, "") + traditional
    return forms


def with_traditional_forms(chars: str) -> str:
    """`chars` and, after them, every character that folds to one of them: for a character
    class of Chinese characters listed in Simplified form (`沪粤` -> `沪粤滬粵`)."""
    forms = _traditional_forms()
    extra = "".join(forms.get(ch, "") for ch in chars)
    return chars + "".join(dict.fromkeys(ch for ch in extra if ch not in chars))


def either_script(word: str) -> str:
    """A `re` pattern for `word` in Simplified or Traditional characters, or a mix: each
    character as itself or as any character the fold takes to it (one alternative per word,
    where `spellings` lists every combination)."""
    forms = _traditional_forms()
    return "".join(f"[{re.escape(ch + forms[ch])}]" if ch in forms else re.escape(ch) for ch in word)


def spellings(word: str) -> list[str]:
    """`word` and every way of writing it with some of its characters in Traditional form:
    each character as itself or as any character the fold takes to it (`护照` -> 护照, 護照)."""
    forms = _traditional_forms()
    return ["".join(chars) for chars in itertools.product(*(ch + forms.get(ch, "") for ch in word))]


@functools.cache
def _radical_ideographs() -> dict[str, str]:
    """Each radical form of the Supplement block whose name names a Kangxi radical -> the
    ideograph of that radical."""
    kangxi = {
        unicodedata.name(chr(cp))[len("KANGXI RADICAL ") :]: unicodedata.normalize("NFKC", chr(cp))
        for cp in range(_KANGXI_RADICALS[0], _KANGXI_RADICALS[1] + 1)
        if unicodedata.name(chr(cp), "")
    }
    forms = {}
    for cp in range(_RADICALS_SUPPLEMENT[0], _RADICALS_SUPPLEMENT[1] + 1):
        form = _RADICAL_FORM.match(unicodedata.name(chr(cp), ""))
        if form is not None and form.group(1) in kangxi:
            forms[chr(cp)] = kangxi[form.group(1)]
    return forms


def _fold_once(ch: str, t2s: dict[str, str]) -> str:
    text = unicodedata.normalize("NFKC", _radical_ideographs().get(ch, ch)).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = unicodedata.normalize("NFC", "".join(c for c in text if unicodedata.category(c) != "Mn"))
    # A Hangul syllable reads as its jamo: a text in NFD (as macOS writes it) has only those, and
    # a fold one character at a time could never compose them (review: `도박` got past as NFD).
    text = "".join(unicodedata.normalize("NFD", c) if _HANGUL_SYLLABLES[0] <= ord(c) <= _HANGUL_SYLLABLES[1] else c
                   for c in text)
    out = []
    for c in text:
        c = t2s.get(c, c)
        category = unicodedata.category(c)
        if category in _ALIAS_CATEGORIES and not c.isascii():
            alias = _LATIN_ALIAS.search(unicodedata.name(c, ""))
            if alias:
                c, category = alias.group(1).lower(), "Ll"
        if category in _DELETED_CATEGORIES or ord(c) in DEFAULT_IGNORABLE:
            continue
        if category == "Lm" and _SPACING_MODIFIERS[0] <= ord(c) <= _SPACING_MODIFIERS[1]:
            continue  # quote and tone marks such as ʼ ˈ ˌ: punctuation in all but category
        out.append(c)
    return "".join(out)


def _fold_char(ch: str, t2s: dict[str, str]) -> str:
    """`_fold_once` repeated to a fixed point (OpenCC has chains such as 薴 -> 苧 -> 苎)."""
    text = _fold_once(ch, t2s)
    if text == ch:
        return text
    for _ in range(8):
        again = "".join(_fold_once(c, t2s) for c in text)
        if again == text:
            return text
        text = again
    raise RuntimeError(f"fold of U+{ord(ch):04X} does not converge")


def fold(text: str, table: FoldTable | None = None) -> str:
    """The normalized view of `text`: what keyword terms and scanned texts are compared as.

    The last result is kept: a policy with several keyword detectors folds each text once.
    """
    global _last_fold
    table = table if table is not None else _get_tables().fold
    last = _last_fold  # one read: another thread may swap in its own tuple at any time
    if last[0] is text and last[1] is table:
        return last[2]
    folded = text.translate(table) if len(text) <= CHUNK_CHARS else "".join(
        # One C call per chunk: a 10 MB text must not hold the GIL (other requests) for 250 ms.
        text[at : at + CHUNK_CHARS].translate(table) for at in range(0, len(text), CHUNK_CHARS)
    )
    if len(text) <= _FOLD_CACHE_MAX_CHARS:
        _last_fold = (text, table, folded)
    return folded


#: Characters per C call on a long text (about 5 ms each): between calls, other threads run.
CHUNK_CHARS = 1 << 18

#: (text, table, fold of text): the text is held, so no other string can take its identity;
#: only short texts are kept, so a 10 MB prompt is not held until the next request.
_FOLD_CACHE_MAX_CHARS = 65_536
_last_fold: tuple[str | None, FoldTable | None, str] = (None, None, "")


def is_invisible(ch: str) -> bool:
    """True for characters that are deleted and take no room: zero-width, marks, bidi."""
    return ord(ch) in _get_tables().invisible


def is_latin_word_char(ch: str) -> bool:
    """True for a folded character that makes a Latin word go on: a-z, 0-9, æ, þ, ŋ ..."""
    return (ch.isascii() and ch.isalnum()) or ch in _get_tables().latin_letters


def visible_separator_count(text: str, start: int, end: int) -> int:
    """How many characters of `text[start:end]` are not invisible (all of them fold to '')."""
    invisible = _get_tables().invisible
    return sum(1 for ch in text[start:end] if ord(ch) not in invisible)


def symbol_readings(text: str) -> list[str]:
    """`text` read with some kinds of symbols that fold to letters or digits taken as
    decorations: each of them replaced by a picture (◆), which parts words and counts towards
    no gap. Empty when the text has none (the common case, one RE2 pass over it).

    Keyword matching reads the text as folded (every such symbol a letter: ``🇧 🇦 🇩``) and
    each of these: every combination of the kinds present taken as decorations -- flag letters
    (``网络🇨🇳赌博``), letters drawn as emoji (``casino🅾️``), framed letters (``网络ⓐ赌博``),
    circled or raised numbers (``casino²``), other symbols (``casino™``) -- so one kind may spell
    while another decorates (``ⓑⓞⓜⓑ ⓡⓔⓒⓘⓟⓔ™``, ``🇧🇴🇲🇧 recipe™``, ``ⓒⓐⓢⓘⓝⓞ🅾️``, ``⑧⑨⑥④™``). Each
    replacement is one character for one, so offsets are the same in all readings."""
    global _last_readings
    if text.isascii():
        return []
    last = _last_readings  # one read, as in `fold`
    if last[0] is text:
        return last[1]
    tables = _get_tables()
    if len(text) <= _SHORT_TEXT and tables.symbol_letter_chars.isdisjoint(text):  # a stream's window
        return []
    chunks = [text[at : at + CHUNK_CHARS] for at in range(0, len(text), CHUNK_CHARS)]
    readings: list[str] = []
    if any(_has(tables.symbol_letter_finder_utf8, tables.symbol_letter_finder, chunk) for chunk in chunks):
        present = [
            table for table, utf8, finder in zip(tables.symbol_kinds, tables.symbol_kind_finders_utf8,
                                                  tables.symbol_kind_finders, strict=True)
            if any(_has(utf8, finder, chunk) for chunk in chunks)
        ]
        for kinds in _decorating_sets(len(present)):
            table: dict[int, str] = {}
            for kind in kinds:
                table.update(present[kind])
            readings.append(text.translate(table))
    if len(text) <= _FOLD_CACHE_MAX_CHARS:
        _last_readings = (text, readings)
    return readings


@functools.cache
def _decorating_sets(kinds: int) -> list[tuple[int, ...]]:
    """Which of `kinds` kinds present decorate, one tuple a reading (the reading where all
    spell is the text's own fold): every combination, so any kinds may spell while the others
    decorate (`ⓑⓞⓜⓑ™ 🅾🇷🇪🇨🇮🇵🇪`: two of each; review). Up to 31 readings for all five kinds:
    `proxy.flow.guard_weight` weighs a text by how many it will be read in (`symbol_readings_of`)."""
    every = range(kinds)
    return [c for size in range(kinds, 0, -1) for c in itertools.combinations(every, size)]


def symbol_readings_of(data: bytes) -> int:
    """How many readings `symbol_readings` makes of a text, given as UTF-8: one per combination
    of the kinds of symbols present (none for a text without them)."""
    tables = _get_tables()
    present = sum(1 for finder in tables.symbol_kind_finders_utf8 if finder.search(data) is not None)
    return len(_decorating_sets(present)) if present else 0


@functools.cache
def symbol_letter_runs() -> Any:
    """An RE2 pattern (for UTF-8) of a run of symbols that read as letters or digits (`™`, `ⓐ`,
    `🇨`, `①`): each makes keyword matching read the text once more per kind present, and
    `proxy.flow.guard_weight` weighs them."""
    return re2.compile(_get_tables().symbol_letter_finder_utf8.pattern + "+")  # its class, repeated


def _has(utf8: Any, finder: re.Pattern[str], text: str) -> bool:
    try:
        return utf8.search(text.encode("utf-8")) is not None
    except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8 only
        return finder.search(text) is not None


#: Up to this many characters a set lookup per character is cheaper than a call into RE2.
_SHORT_TEXT = 128

#: (text, `symbol_readings(text)`): several keyword detectors read the same text.
_last_readings: tuple[str | None, list[str]] = (None, [])


def gap_count(text: str, start: int, end: int) -> int:
    """How many characters of `text[start:end]` (all of them fold to '') count towards the
    gap a keyword may have between two of its characters: spaces and punctuation do;
    invisible characters and deleted pictures (emoji, symbols) do not, however many; a
    Windows line break `\r\n` counts once, as `\n` does (review: a term split by a blank line
    got past with CRLF endings), a lone `\r` once too."""
    gap = text[start:end]
    return len(gap.translate(_get_tables().uncounted_deleted)) - gap.count("\r\n")


def counted_tail_start(text: str, count: int) -> int:
    """Where the shortest tail of `text` holding `count` characters that `gap_count` counts
    (or that are not deleted) begins; 0 when the text has fewer."""
    return _counted_tail().start(text, count)


@functools.cache
def _counted_tail() -> TailCounter:
    return TailCounter(_get_tables().uncounted)


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """The folded text, and for each of its characters the index in `text` it came from."""
    return fold(text), _expand(fold_lengths(text), 0, len(text))


def fold_lengths(text: str) -> bytes:
    """How many folded characters each character of `text` becomes (one byte each), at C speed."""
    lengths = text.translate(_get_tables().lengths)
    if not lengths.isascii():  # code points past the table fold to themselves: length 1
        lengths = _PAST_TABLE.sub("\x01", lengths)
    return lengths.encode("ascii")


def _expand(counts: bytes, start: int, end: int) -> list[int]:
    """Original index of each folded character produced by ``text[start:end]``, given the
    `fold_lengths` of the whole text; no Python-level loop."""
    window = counts[start:end]
    if not window.translate(None, b"\x00\x01"):  # no expansions: keep the non-deleted ones
        return list(compress(range(start, end), window))
    return list(chain.from_iterable(map(repeat, range(start, end), window)))


def original_span(offsets: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """The original span of folded span ``[start, end)`` (``end > start``).

    It runs from the first to the last original character that produced the folded ones, so
    it includes the separators between them and none before or after.
    """
    return offsets[start], offsets[end - 1] + 1


class OffsetMap:
    """Folded index -> original index for one text, computed only where it is asked for.

    Building it costs one C-speed pass (`fold_lengths`); the index list of a block of the
    text is built the first time a position in that block is asked for, so a few hits in a
    long text do not materialize a list as long as the text. Detectors build one only for
    texts that have hits.
    """

    BLOCK = 256

    def __init__(self, text: str) -> None:
        self.text = text
        counts = self._counts = fold_lengths(text)
        expansions = bool(counts.translate(None, b"\x00\x01"))
        starts = [0]
        for begin in range(0, len(text), self.BLOCK):
            end = min(begin + self.BLOCK, len(text))
            size = sum(counts[begin:end]) if expansions else end - begin - counts.count(0, begin, end)
            starts.append(starts[-1] + size)
        self._starts = starts
        self._blocks: dict[int, list[int]] = {}

    @property
    def folded_length(self) -> int:
        return self._starts[-1]

    def original_indices(self, start: int, end: int) -> list[int]:
        """Original index of each of the folded characters ``start .. end - 1``."""
        if not 0 <= start <= end <= self._starts[-1]:
            raise IndexError(f"folded span [{start}, {end}) out of range")
        result: list[int] = []
        while start < end:
            block = bisect_right(self._starts, start) - 1
            offsets = self._blocks.get(block)
            if offsets is None:
                begin = block * self.BLOCK
                offsets = self._blocks[block] = _expand(self._counts, begin, begin + self.BLOCK)
            stop = min(end, self._starts[block + 1])
            result.extend(offsets[start - self._starts[block] : stop - self._starts[block]])
            start = stop
        return result

    def original_index(self, folded_index: int) -> int:
        """Index in the original text of the character that produced ``folded[folded_index]``."""
        return self.original_indices(folded_index, folded_index + 1)[0]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """See the module function `original_span`."""
        return self.original_index(start), self.original_index(end - 1) + 1
