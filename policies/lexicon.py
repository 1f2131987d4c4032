"""Keyword lists: plain UTF-8 files, one term per line.

Format::

    # a comment line (first non-blank character is '#'); blank lines are skipped
    法轮功                  <- category of the file (the `category` argument)
    bad word<TAB>A.2.c      <- category of this line, overrides the file's

A term is compared as its fold (see `policies.normalize`), so ``Bad-Word`` and ``badword``
are the same term. Errors raise `LexiconError` naming the file, the line and the fix.

Duplicates -- two lines whose terms fold to the same key -- are *not* errors: lists are
legitimately written with both the Traditional and the Simplified spelling, or with and
without spaces, and those fold together. The first line wins (its category is kept), and
each duplicate is logged as a warning through `logging` (the first ten individually, then a
count), so a curator can clean the list without a deploy being blocked by it.

Files are read a line at a time. `read_lexicon` keeps nothing per line and yields every valid
line, duplicates included: whoever indexes the keys anyway finds the duplicates and reports
them to a `Duplicates` (the keyword detector asks its automaton, see
`KeywordDetector.from_lexicons`, so a million-term list costs its automaton and, while it is
built, a few dozen bytes a line).
`iter_lexicon` and `load_lexicon` drop them with a set of the file's keys, for callers that
want `Term`s.
"""

from __future__ import annotations

import heapq
import logging
import re
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from policies.normalize import fold

logger = logging.getLogger(__name__)

MAX_TERM_CHARS = 256
"""Longest term, in characters, both as written and after folding."""

_DUPLICATES_LOGGED = 10


class LexiconError(ValueError):
    """A lexicon file cannot be loaded; the message names the file, the line and the fix."""


@dataclass(frozen=True, slots=True)
class Term:
    """One keyword as written in its file (`text` is not folded)."""

    text: str
    category: str
    source: str
    line: int


def load_lexicon(
    path: Path,
    category: str | None,
    allowed_categories: AbstractSet[str] | None = None,
) -> list[Term]:
    """Read and validate one lexicon file.

    `category` applies to lines without their own ``<TAB>category``; with None every line must
    carry one. `allowed_categories`, when given, is the closed set of valid categories.
    """
    return list(iter_lexicon(path, category, allowed_categories))


def iter_lexicon(
    path: Path,
    category: str | None,
    allowed_categories: AbstractSet[str] | None = None,
) -> Iterator[Term]:
    """`load_lexicon` one term at a time. Errors are raised when reached; the duplicates are
    logged once the file has been read to its end."""
    source = str(path)
    seen: set[str] = set()
    duplicates = Duplicates(path)
    for text, key, term_category, number in read_lexicon(path, category, allowed_categories):
        if key in seen:
            duplicates.add(number, key)
            continue
        seen.add(key)
        yield Term(text, term_category, source, number)
    duplicates.log()


class FileMark(NamedTuple):
    """A point at the start of a line of a lexicon file: its byte offset, and how many lines
    come before it. Where reading resumes when lines were appended (see `keyword_appends`)."""

    offset: int
    lines: int


START = FileMark(0, 0)


def read_lexicon(
    path: Path,
    category: str | None,
    allowed_categories: AbstractSet[str] | None = None,
    start: FileMark = START,
) -> Iterator[tuple[str, str, str, int]]:
    """(term as written, its folded key, category, line number) of every valid line, in file
    order, duplicates included; see `load_lexicon` for the arguments. The file is read a line
    at a time from `start` and nothing is kept: errors are raised when reached."""
    source = str(path)
    if category is not None:
        _check_category(category, allowed_categories, f"{source}: file category", quoted=True)
    checked: set[str] = set()
    for number, line in _lines(path, start):
        term, _, line_category = line.partition("\t")
        term = term.strip()
        if "\r" in line or (not line_category and len(term.split(maxsplit=1)) > 1):  # inline: 1M lines a load
            _check_layout(line, term, line_category, allowed_categories, f"{source}:{number}")
        term_category = line_category.strip() or category  # `term<TAB>` alone: the file's category
        if not term_category:
            raise LexiconError(
                f"{source}:{number}: no category; append '<TAB>category' to the line or give the file a "
                "category in the policy"
            )
        if term_category not in checked:
            _check_category(term_category, allowed_categories, f"{source}:{number}")
            checked.add(term_category)
        yield term, _folded_key(term, source, number), term_category, number


class Duplicates:
    """The duplicate lines of one lexicon file, logged when `log` is called (once the file has
    been read): the first ten individually with the line each repeats, then a count. They may
    be reported in any order (a build adds keys sorted): the first ten are those of the lowest
    line numbers.

    The line a duplicate repeats is not known where duplicates are found (nothing keeps a
    line number per key), so `log` reads the file again, only as far as the first line of
    each of the ten -- and only when there are duplicates.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._logged: list[tuple[int, str]] = []  # (-line, key) of the first ten: a max-heap by line

    def add(self, line: int, key: str) -> None:
        """`line` folds to `key`, which an earlier line of the file already had."""
        self.count += 1
        if len(self._logged) < _DUPLICATES_LOGGED:
            heapq.heappush(self._logged, (-line, key))
        elif line < -self._logged[0][0]:
            heapq.heapreplace(self._logged, (-line, key))

    def log(self) -> None:
        if not self._logged:
            return
        logged = sorted((-negated, key) for negated, key in self._logged)
        first = self._first_lines({key for _, key in logged})
        for line, key in logged:
            if key in first:
                logger.warning(
                    "%s:%d: duplicate term: folds to the same key as line %d; keeping line %d",
                    self.path,
                    line,
                    first[key],
                    first[key],
                )
            else:  # the file changed since it was read
                logger.warning("%s:%d: duplicate term: folds to the same key as an earlier line", self.path, line)
        if self.count > _DUPLICATES_LOGGED:
            logger.warning("%s: %d duplicate terms in all; the first of each was kept", self.path, self.count)

    def _first_lines(self, keys: set[str]) -> dict[str, int]:
        """The first line of the file that folds to each of `keys`, as far as it can be read."""
        first: dict[str, int] = {}
        try:
            for number, line in _lines(self.path):
                key = fold(line.partition("\t")[0].strip())
                if key in keys and key not in first:
                    first[key] = number
                    if len(first) == len(keys):
                        break
        except LexiconError:  # it could be read a moment ago: it is being replaced
            pass
        return first


def _lines(path: Path, start: FileMark = START) -> Iterator[tuple[int, str]]:
    """(line number, line) of each line of `path` from `start` on that is neither blank nor a
    comment, decoded from UTF-8, one at a time; a byte-order mark at the start is skipped."""
    try:
        with path.open("rb") as file:
            file.seek(start.offset)
            for number, data in enumerate(file, start=start.lines + 1):
                try:
                    line = data.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise LexiconError(
                        f"{path}:{number}: invalid UTF-8 (byte 0x{data[error.start]:02x} at byte column "
                        f"{error.start + 1}); re-save the file as UTF-8"
                    ) from None
                if number == 1:
                    line = line.removeprefix("\ufeff")
                stripped = line.lstrip()
                if stripped and stripped[0] != "#":
                    yield number, line
    except OSError as error:
        raise LexiconError(f"{path}: cannot read the lexicon: {error.strerror}") from error


def _folded_key(term: str, source: str, number: int) -> str:
    if len(term) > MAX_TERM_CHARS:
        raise LexiconError(
            f"{source}:{number}: term is {len(term)} characters long, the limit is {MAX_TERM_CHARS}; "
            "shorten it or split it into several terms"
        )
    key = fold(term)
    if not key:
        raise LexiconError(
            f"{source}:{number}: term {term!r} is empty once spaces, punctuation, symbols and invisible "
            "characters are removed; delete the line or turn it into a comment with '#'"
        )
    if len(key) > MAX_TERM_CHARS:
        raise LexiconError(
            f"{source}:{number}: term folds to {len(key)} characters (compatibility characters such as "
            f"ligatures expand), the limit is {MAX_TERM_CHARS}; shorten it"
        )
    # The term's own string when folding changed nothing: a caller that keeps both (a list of
    # terms and a set of keys) keeps one string.
    return term if key == term else key


def _check_layout(line: str, term: str, category: str, allowed: AbstractSet[str] | None, where: str) -> None:
    """Layouts that would silently change what a line means (review): a carriage return inside
    it (classic Mac OS line endings make one term of the whole file), or a category after
    spaces instead of a TAB (an editor's expandtab makes it part of the term)."""
    if "\r" in line.rstrip("\r\n"):
        raise LexiconError(f"{where}: a carriage return inside the line (classic Mac OS line endings?); "
                           "save the file with LF or CRLF line endings")
    if not category:
        spaced = _SPACED_CATEGORY.search(term)
        if spaced is not None and (_TAXONOMY_ID.fullmatch(spaced[1]) or (allowed and spaced[1] in allowed)):
            raise LexiconError(f"{where}: the line ends in a category after spaces; separate the term and its "
                               "category with a TAB (an editor may have turned it into spaces)")


#: A last word after white space, and a taxonomy id (`A.1.h`).
_SPACED_CATEGORY = re.compile(r"\S\s+(\S+)$")
_TAXONOMY_ID = re.compile(r"[A-Z]\.[1-9]\.[a-z]{1,2}")


def _check_category(category: str, allowed: AbstractSet[str] | None, where: str, quoted: bool = False) -> None:
    """`quoted`: the category comes from the policy, not a lexicon line, and may be shown."""
    shown = repr(category) if quoted else _shown(category)
    if not category or any(c.isspace() for c in category):
        raise LexiconError(f"{where}: invalid category {shown}; use a name without spaces, like 'A.1.a'")
    if allowed is not None and category not in allowed:
        known = ", ".join(sorted(allowed)[:20])
        raise LexiconError(
            f"{where}: unknown category {shown}; use one of: {known}" + (" ..." if len(allowed) > 20 else "")
        )


def _shown(category: str) -> str:
    """A category as an error message may quote it: when it is not shaped like one, it may be
    a banned term written in the wrong column, which must not reach a log."""
    if _CATEGORY_SHAPE.fullmatch(category):
        return repr(category)
    return (f"({len(category)} characters, not shaped like a category name; a line is "
            "'term<TAB>category': are the columns swapped?)")


#: What is quoted: a taxonomy id (`A.1.h`, `A.2`) or a snake_case name (`prompt_injection`).
#: A plain word or number may be a banned term (`casino`, `8964`) in the wrong column.
_CATEGORY_SHAPE = re.compile(r"[A-Z]\.[1-9](?:\.[a-z]{1,2})?|[a-z]+(?:_[a-z]+)+")
