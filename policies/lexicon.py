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
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

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
    """`load_lexicon` one term at a time, so a detector can be built without holding every
    `Term` at once (about 175 MB per million terms). Errors are raised when reached."""
    source = str(path)
    if category is not None:
        _check_category(category, allowed_categories, f"{source}: file category")
    text = _read_text(path)
    checked: set[str] = set()
    first_line: dict[str, int] = {}
    duplicates = 0
    # Iterating a StringIO instead of a split list lets each line be freed once it is used.
    for number, line in enumerate(io.StringIO(text, newline="\n"), start=1):
        stripped = line.strip()
        if not stripped or stripped[0] == "#":
            continue
        term, tab, line_category = line.partition("\t")
        term = term.strip()
        where = f"{source}:{number}"
        term_category = line_category.strip() if tab else category
        if term_category is None or not term_category:
            raise LexiconError(
                f"{where}: no category; append '<TAB>category' to the line or give the file a category in the policy"
            )
        if term_category not in checked:
            _check_category(term_category, allowed_categories, where)
            checked.add(term_category)
        key = _folded_key(term, where)
        first = first_line.setdefault(key, number)
        if first != number:
            duplicates += 1
            if duplicates <= _DUPLICATES_LOGGED:
                logger.warning(
                    "%s: duplicate term: folds to the same key as line %d; keeping line %d",
                    where,
                    first,
                    first,
                )
            continue
        yield Term(term, term_category, source, number)
    if duplicates > _DUPLICATES_LOGGED:
        logger.warning("%s: %d duplicate terms in all; the first of each was kept", source, duplicates)


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LexiconError(f"{path}: cannot read the lexicon: {error.strerror}") from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise LexiconError(
            f"{path}:{line}: invalid UTF-8 (byte 0x{data[error.start]:02x} at byte column "
            f"{column}); re-save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def _folded_key(term: str, where: str) -> str:
    if len(term) > MAX_TERM_CHARS:
        raise LexiconError(
            f"{where}: term is {len(term)} characters long, the limit is {MAX_TERM_CHARS}; "
            "shorten it or split it into several terms"
        )
    key = fold(term)
    if not key:
        raise LexiconError(
            f"{where}: term {term!r} is empty once spaces, punctuation, symbols and invisible "
            "characters are removed; delete the line or turn it into a comment with '#'"
        )
    if len(key) > MAX_TERM_CHARS:
        raise LexiconError(
            f"{where}: term folds to {len(key)} characters (compatibility characters such as "
            f"ligatures expand), the limit is {MAX_TERM_CHARS}; shorten it"
        )
    # Share the term's string when folding changed nothing: halves the memory of the
    # duplicate index for lists that are already normalized.
    return term if key == term else key


def _check_category(category: str, allowed: AbstractSet[str] | None, where: str) -> None:
    if not category or any(c.isspace() for c in category):
        raise LexiconError(f"{where}: invalid category {category!r}; use a name without spaces, like 'A.1.a'")
    if allowed is not None and category not in allowed:
        known = ", ".join(sorted(allowed)[:20])
        raise LexiconError(
            f"{where}: unknown category {category!r}; use one of: {known}" + (" ..." if len(allowed) > 20 else "")
        )
