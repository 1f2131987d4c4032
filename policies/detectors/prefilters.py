"""RE2 prefilters derived from a pattern recognizer's own regexes.

A prefilter must match wherever the recognizer can (a superset), and the tighter it is, the
fewer windows the recognizer runs on. The tightest superset RE2 can run is the recognizer's
own patterns with their look-around assertions removed: removing an assertion only widens
what a pattern matches, and what is left (classes, groups, counted repeats, `\\b`) is
syntax RE2 shares with the `regex` module for the patterns this applies to.

A long counted repeat is widened too (`{1,253}` becomes `{1,}`): RE2's DFA holds one state
per count, and Presidio's URL pattern alone would not fit its memory budget otherwise.

A recognizer match also matches the derived union at its start, so a leftmost-first scan
over the text either reports a match starting there or one that is still running over that
position; a window of the match widened by the recognizer's longest match therefore holds
every finding (`tests/policies/test_prefilters.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import re2
import regex  # type: ignore[import-untyped]  # for its flag bits; no stubs installed

_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")
#: A counted repeat `{m,n}` (or `{m}`), at the start of the text it is matched against.
_COUNTED = re.compile(r"\{(\d+)(?:,(\d*))?\}")
#: Upper bounds above this are dropped: the DFA's states grow with the count.
WIDEST_COUNT = 16


def without_lookarounds(pattern: str) -> str:
    """`pattern` with every look-ahead and look-behind group (nested ones too) cut out, and
    every counted repeat with an upper bound over `WIDEST_COUNT` made open-ended."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(_LOOKAROUNDS, i):
            i = _group_end(pattern, i)
            continue
        counted = _COUNTED.match(pattern, i) if pattern[i] == "{" else None
        if counted is not None:
            low, high = counted.group(1), counted.group(2)
            wide = high is not None and (high == "" or int(high) > WIDEST_COUNT)
            out.append(f"{{{low},}}" if wide else counted.group())
            i = counted.end()
            continue
        step = _token_length(pattern, i)
        out.append(pattern[i : i + step])
        i += step
    return "".join(out)


#: Tokens outside character classes, besides look-aheads, that read the text after the
#: position they are tested at: word boundaries (`\\m \\M` are the `regex` module's), end anchors.
_LOOKING_AHEAD = frozenset({"\\b", "\\B", "\\m", "\\M", "\\Z", "\\z", "$"})


def looks_ahead(patterns: Iterable[str]) -> bool:
    """Whether any of `patterns` asserts something about the text after a position: then a
    search must see characters past where its matches can end, for the assertion's sake."""
    for pattern in patterns:
        i = 0
        while i < len(pattern):
            if pattern.startswith(("(?=", "(?!"), i):
                return True
            step = _token_length(pattern, i)
            if pattern[i : i + step] in _LOOKING_AHEAD:
                return True
            i += step
    return False


def union_prefilter(patterns: Iterable[str], ignore_case: bool) -> str:
    """One RE2 pattern matching wherever any of `patterns` can; raises ValueError if RE2
    cannot compile it (the caller then needs a hand-written prefilter)."""
    union = _union(patterns)
    return _compilable(f"(?i:{union})" if ignore_case else union)


def regex_prefilter(patterns: Iterable[str], flags: int) -> str:
    """`union_prefilter` of patterns the `regex` module reads with `flags` (its flag bits).

    Case folding, dot-all and multi-line become inline RE2 flags. RE2's `\\d \\w \\s \\b`
    are ASCII, so without `regex.ASCII` a pattern using them is refused (ValueError); with
    it, `\\s` (which RE2 reads without the vertical tab) is widened to take it.
    """
    inline = "".join(flag for bit, flag in _INLINE_FLAGS if flags & bit)
    ascii_only = bool(flags & _ASCII)
    union = _union(_ascii_classes(pattern, ascii_only) for pattern in patterns)
    return _compilable(f"(?{inline}:{union})" if inline else union)


def _union(patterns: Iterable[str]) -> str:
    return "|".join(f"(?:{without_lookarounds(pattern)})" for pattern in patterns)


def _compilable(prefilter: str) -> str:
    """`prefilter`, once RE2 has compiled it; ValueError otherwise."""
    try:
        re2.compile(prefilter)
    except re2.error as exc:
        raise ValueError(f"RE2 cannot compile the derived prefilter {prefilter!r}: {exc}") from exc
    return prefilter


# The `regex` module's flag bits and RE2's inline letters for them.
_INLINE_FLAGS = ((regex.IGNORECASE, "i"), (regex.DOTALL, "s"), (regex.MULTILINE, "m"))
_ASCII = regex.ASCII
_SHORTHANDS = frozenset("dwsbDWSB")


def _ascii_classes(pattern: str, ascii_only: bool) -> str:
    """`pattern` with `\\s` widened to RE2's reading, or ValueError where RE2 would read a
    shorthand class more narrowly than the `regex` module."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        step = _token_length(pattern, i)
        token = pattern[i : i + step]
        shorthands = _shorthands_in(token)
        if shorthands and not ascii_only:
            raise ValueError(f"{pattern!r} uses Unicode shorthand classes RE2 reads as ASCII")
        if token == "\\s":
            token = "[\\s\\v]"
        elif token.startswith("[") and "s" in shorthands:
            if token.startswith("[^"):
                pass  # a negated class excludes less in RE2: still a superset
            else:
                token = "[\\v" + token[1:]
        if token.startswith("[^") and "S" in shorthands:
            raise ValueError(f"{pattern!r}: RE2 reads [^\\S] without the vertical tab")
        out.append(token)
        i += step
    return "".join(out)


def _shorthands_in(token: str) -> set[str]:
    """The shorthand class letters (`d`, `w`, `s`, `b` and capitals) escaped in `token`."""
    found, i = set(), 0
    while i < len(token) - 1:
        if token[i] == "\\":
            if token[i + 1] in _SHORTHANDS:
                found.add(token[i + 1])
            i += 2
        else:
            i += 1
    return found


def _token_length(pattern: str, i: int) -> int:
    """Length of the token at `i`: an escape, a whole character class, or one character."""
    if pattern[i] == "\\":
        return 2
    if pattern[i] == "[":
        return _class_end(pattern, i) - i
    return 1


def _class_end(pattern: str, i: int) -> int:
    """Index just past the character class opening at `i` (`]` first in a class is literal)."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern):
        if pattern[j] == "\\":
            j += 2
            continue
        if pattern[j] == "]":
            return j + 1
        j += 1
    raise ValueError(f"unterminated character class at {i} in {pattern!r}")


def _group_end(pattern: str, i: int) -> int:
    """Index just past the group opening at `i`, skipping escapes and classes inside it."""
    depth, j = 0, i
    while j < len(pattern):
        char = pattern[j]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += _token_length(pattern, j)
    raise ValueError(f"unbalanced group at {i} in {pattern!r}")
