"""Keyword lists matched with one Aho-Corasick automaton, on the folded text.

How a text is scanned:

1. ``fold(text)`` (see `policies.normalize`): case, width, accents, Traditional Chinese,
   letters whose Unicode name spells a Latin letter (`🅰`, `ʙ`, `ø`) and every separator or
   invisible character are folded away (Cyrillic or Greek look-alikes are not), so
   ``法 轮 功``, ``S.E.X``, ``ＳＥＸ`` and ``bad\\u200bword`` read as the terms they spell.
2. The folded text is encoded as UTF-8 (one automaton symbol per byte). pyahocorasick finds a
   node's child by a linear scan, so a trie keyed by code points slows down with the number
   of distinct first characters of a Chinese lexicon; with bytes every node has at most 256
   children and the scan cost stops depending on the lexicon size. UTF-8 is self-
   synchronizing, so a byte match always starts and ends on a character boundary.
3. Only when there are hits: map each hit back to the original text with an `OffsetMap` and
   keep it if it passes these checks:

   * gap: between two consecutive matched characters there are at most `max_gap` original
     spaces, punctuation marks or line breaks (`normalize.gap_count`). Invisible characters
     (zero-width, bidi, combining marks) and pictures (emoji, dingbats) do not count, however
     many: padding a term with them does not get it through;
   * word boundary, for an end of a term that is a Latin letter or digit: the nearest
     visible original character outside that end must not fold to a Latin letter or digit
     (``ass`` does not hit ``class``; ``s e x`` and ``sex!`` hit);
   * allowlist: a term hit lying entirely inside an allow-phrase hit is dropped.

Symbols that fold to letters or digits (``™``, ``①``, flag letters, framed letters) can be a
spelling or a decoration, so a text that has any is scanned as folded and once more for each
combination of their kinds read as decorations (`normalize.symbol_readings`): ``🇧 🇦 🇩``
hits as folded, ``网络🇨🇳赌博``, ``casino™`` and ``🇧🇴🇲🇧 recipe™`` in the other readings.

A stream holds back what `hold_from` says: from the start of the longest tail that could
still grow into a term. `max_match_chars`, ``L + (L - 1) * (max_gap + INVISIBLE_PER_GAP)``
where L is the longest folded term or allow phrase, is the span of a term with room for
`INVISIBLE_PER_GAP` invisible characters per gap: what a policy reports as this detector's
usual hold-back. A finding with more invisible characters or pictures in it is still found,
and `hold_from` still holds it back whole.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import ahocorasick

from policies.detectors.key_order import KeyedLines
from policies.detectors.phrase_variants import PhraseVariants, sensitive_characters
from policies.findings import Finding
from policies.lexicon import MAX_TERM_CHARS, START, Duplicates, FileMark, Term, read_lexicon
from policies.normalize import (
    CHUNK_CHARS,
    OffsetMap,
    counted_tail_start,
    fold,
    fold_with_offsets,
    gap_count,
    is_invisible,
    is_latin_word_char,
    symbol_readings,
    visible_separator_count,
)

log = logging.getLogger(__name__)

KIND = "KEYWORD"
INVISIBLE_PER_GAP = 2

# An automaton value packs, from the low bits up: allow-phrase flag, Latin-start flag,
# Latin-end flag, written-with-an-apostrophe flag, key length in UTF-8 bytes, index of the
# key's entry in the category-set table. pyahocorasick keeps 32-bit signed values, which
# leaves 16 bits for that index.
_ALLOW, _LATIN_START, _LATIN_END, _APOSTROPHE = 1, 2, 4, 8
_FLAGS = _ALLOW | _LATIN_START | _LATIN_END | _APOSTROPHE
_LENGTH_SHIFT, _LENGTH_BITS = 4, 11  # 256 characters * 4 bytes < 2**11
_CATEGORIES_SHIFT = _LENGTH_SHIFT + _LENGTH_BITS
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1
_MAX_CATEGORY_SETS = 1 << (31 - _CATEGORIES_SHIFT)
_NO_FILE = 0  # the origin of terms given as `Term`s and of allow phrases
#: The origin of a term's variant spellings (`phrase_variants`): keys that report the term's
#: category but are no terms of their own, neither counted nor ever a duplicate.
_VARIANT = (1 << 32) - 1
#: The value of a top-level prefix while a build allocates its node (see `key_order`); never a key's.
_PLACEHOLDER = -1
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))


#: What one reading of a text yields: (categories, original span) of each accepted term hit,
#: and the original span of each accepted allow-phrase hit.
_Accepted = tuple[list[tuple[tuple[str, ...], tuple[int, int]]], list[tuple[int, int]]]


class KnownKeyChanged(Exception):
    """An appended line would change a key the base automaton already has: build afresh."""


class _Hit(NamedTuple):
    start: int  # span in the folded text
    end: int
    flags: int
    categories: tuple[str, ...]  # empty for a pure allow phrase


class KeywordDetector:
    """Finds the terms of one or more lexicons; one immutable instance serves all requests.

    `term_count` is the number of distinct (folded term, category) pairs; terms that fold to
    the same key are one automaton entry that reports each of its categories.

    `KeywordDetector(name, terms)` takes `Term`s; `from_lexicons` reads files, where a key
    repeated within one file is a duplicate line rather than a second category. Either way the
    keys go into the automaton in sorted order, once all are read (see `key_order`).
    """

    def __init__(
        self,
        name: str,
        terms: Iterable[Term],
        allowlist: Iterable[str] = (),
        max_gap: int = 3,
    ) -> None:
        self._start(name, max_gap)
        lines = KeyedLines()
        variants = _variants_into(lines)
        for term in terms:
            key, apostrophe = _checked_key(term.text, f"{term.source}:{term.line}"), _has_apostrophe(term.text)
            lines.append(key, term.category, _NO_FILE, term.line, apostrophe)
            variants.add(term.text, key, term.category, _NO_FILE, term.line, apostrophe)
        variants.flush()
        self._finish(lines, allowlist, {})

    @classmethod
    def from_lexicons(
        cls,
        name: str,
        files: Iterable[tuple[Path, str | None]],
        allowed_categories: AbstractSet[str] | None = None,
        allowlist: Iterable[str] = (),
        max_gap: int = 3,
        starts: Sequence[FileMark] | None = None,
        known: KeywordDetector | None = None,
    ) -> KeywordDetector:
        """A detector over lexicon files, each (path, category) as `policies.lexicon.load_lexicon`
        takes them, read a line at a time; each line is kept compactly (`KeyedLines`) until
        all are read and go into the automaton in key order.

        The automaton is the only index of the keys: a line whose key the same file already
        added is a duplicate -- the first line wins and the duplicate is logged, as the lexicon
        format says -- while a key found in two files reports both files' categories.

        For lines appended to files that `known` was built from: `starts` says where in each
        file to begin, and a line whose key `known` already reports under the same category
        adds nothing; one that would give a key of `known` another category (or turn its
        allow phrase into a term) raises `KnownKeyChanged`, since only a whole build can merge
        the two (see `keyword_appends`).
        """
        detector = cls.__new__(cls)  # `__init__` takes `Term`s
        detector._start(name, max_gap)
        marks = starts if starts is not None else ()
        lines, duplicates = KeyedLines(), {}
        variants, sensitive = _variants_into(lines), sensitive_characters()
        for origin, (path, category) in enumerate(files, start=_NO_FILE + 1):
            duplicates[origin] = Duplicates(path)
            start = marks[origin - 1] if marks else START
            for written, key, term_category, line in read_lexicon(path, category, allowed_categories, start):
                apostrophe = _has_apostrophe(written)
                if known is not None:  # a key that is only a variant there is a new term here
                    had = known.term_categories_of(key)
                    if had is not None and term_category in had and (not apostrophe or known.has_apostrophe(key)):
                        continue
                    if had is not None:
                        raise KnownKeyChanged(f"{path}:{line}: the term's key is already in the lexicons")
                lines.append(key, term_category, origin, line, apostrophe)
                # `PhraseVariants.add`'s own test, made here first: it passes few of a million
                # lines, and a call per line cost more than the test (~0.35 s against ~0.2 s).
                if not key.isascii() and (sensitive is None or written != key or not sensitive.isdisjoint(key)):
                    variants.add(written, key, term_category, origin, line, apostrophe)
        variants.flush()
        detector._finish(lines, allowlist, duplicates)
        for found in duplicates.values():
            found.log()
        return detector

    def categories_of(self, key: str) -> tuple[str, ...] | None:
        """The categories folded `key` reports (empty for an allow phrase), None if it is not a key."""
        value = self._value_of(key)
        return None if value is None else self._category_sets[value >> _CATEGORIES_SHIFT]

    def term_categories_of(self, key: str) -> tuple[str, ...] | None:
        """`categories_of`, None too for a key that is only a variant spelling of other terms."""
        value = self._value_of(key)
        if value is None or self._set_origins[value >> _CATEGORIES_SHIFT] == _VARIANT:
            return None
        return self._category_sets[value >> _CATEGORIES_SHIFT]

    def has_apostrophe(self, key: str) -> bool:
        """Whether folded `key` was written with an apostrophe somewhere (`won't`)."""
        value = self._value_of(key)
        return value is not None and bool(value & _APOSTROPHE)

    def _value_of(self, key: str) -> int | None:
        value: int | None = self._automaton.get(_symbols(key), None)
        return value

    def _start(self, name: str, max_gap: int) -> None:
        if max_gap < 0:
            raise ValueError(f"keyword detector {name!r}: max_gap must be >= 0, got {max_gap}")
        self.name = name
        self.max_gap = max_gap
        self._automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        # Entry i of the category-set table: the categories a key reports, and the file that
        # last added the key (how `from_lexicons` tells a duplicate line from a second file).
        self._category_sets: list[tuple[str, ...]] = [()]
        self._set_origins: list[int] = [_NO_FILE]
        self._category_set_ids: dict[tuple[tuple[str, ...], int], int] = {((), _NO_FILE): 0}
        self._counts: dict[str, int] = {}
        self._longest_key = 0

    def _finish(self, lines: KeyedLines, allowlist: Iterable[str], duplicates: Mapping[int, Duplicates]) -> None:
        """Add `lines` and the allow phrases after them, in key order (see `key_order`); a line
        that repeats its file's key is reported to that file's `duplicates`."""
        allow_keys = []
        variants = _variants_into(lines)  # an allow phrase exempts its phrase spellings too
        for phrase in allowlist:
            allow_keys.append(_checked_key(phrase, f"keyword detector {self.name!r} allowlist"))
            lines.append(allow_keys[-1], None, _NO_FILE, 0, _has_apostrophe(phrase))
            variants.add(phrase, allow_keys[-1], None, _NO_FILE, 0, _has_apostrophe(phrase))
        variants.flush()
        automaton = self._automaton
        top = lines.top_prefixes()
        for prefix in top:  # the first levels' nodes, side by side
            automaton.add_word(prefix, _PLACEHOLDER)
        for key, category, origin, line, apostrophe in lines.in_key_order():
            if not self._add(key, category, origin, apostrophe) and origin != _VARIANT:
                duplicates[origin].add(line, key)
        for prefix in top:
            if automaton.get(prefix) == _PLACEHOLDER:  # a prefix, not a key
                automaton.remove_word(prefix)
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()
        self._warn_of_allowed_terms(allow_keys)
        self.term_count: int = sum(self._counts.values())
        longest = self._longest_key
        # At least 1 even when empty, so a policy's hold-back (max_match_chars - 1) is never < 0.
        self.max_match_chars: int = max(1, longest + (longest - 1) * (self.max_gap + INVISIBLE_PER_GAP))
        #: The most characters a hit spans that `gap_count` counts, or that are matched.
        self._max_counted = longest + (longest - 1) * self.max_gap

    def hold_from(self, text: str) -> int:
        """Where a term (or allow phrase) that is not complete yet could begin, for streaming.

        The answer is the start of the longest tail of `text` whose folded form is a prefix of
        some key: only from there on can later characters still make (or unmake) a hit. Text
        before it may be released. The tail holds at most the characters of a term's longest
        span, not counting invisible ones and pictures (see `gap_count`): a whole term is held
        too while the character after it, which decides its word boundary, is still to come.
        """
        if self._empty:
            return len(text)
        return min([self._hold_from(text), *(self._hold_from(reading) for reading in symbol_readings(text))])

    def _hold_from(self, text: str) -> int:
        floor = counted_tail_start(text, self._max_counted)  # a whole term too: its boundary is not known yet
        if floor >= len(text):
            return len(text)
        folded, origin = fold_with_offsets(text[floor:])
        for k in range(max(0, len(folded) - self._longest_key), len(folded)):
            if self._automaton.match(_symbols(folded[k:])):
                return floor + origin[k]
        return len(text)

    def counts_by_category(self) -> dict[str, int]:
        """Distinct folded terms per category (a term in two categories counts in both)."""
        return dict(self._counts)

    def keys_by_category(self) -> dict[str, set[str]]:
        """The folded terms of each category (allow phrases aside), to count the terms of
        several detectors that share lexicons once (`check`); a walk over every key."""
        keys: dict[str, set[str]] = {}
        for key, value in self._automaton.items():
            if self._set_origins[value >> _CATEGORIES_SHIFT] == _VARIANT:
                continue  # a spelling of a term counted under its own key
            for category in self._category_sets[value >> _CATEGORIES_SHIFT]:
                keys.setdefault(category, set()).add(key)
        return keys

    def _warn_of_allowed_terms(self, allow_keys: list[str]) -> None:
        """Log the allowlist entries that are terms themselves: a hit of such a term always lies
        inside a hit of the phrase, so the term never counts (numbered, not quoted: no log holds
        a banned term)."""
        shadowing = [index for index, key in enumerate(allow_keys, 1) if self.categories_of(key)]
        if shadowing:
            log.warning("keyword detector %r: allowlist entries %s fold to the same key as a term, so that term "
                        "never matches; remove the entry from the allowlist or the term from its lexicon",
                        self.name, ", ".join(f"#{index}" for index in shadowing))

    def _add(self, key: str, category: str | None, origin: int, apostrophe: bool = False) -> bool:
        """Add a term (category given) or an allow phrase (None) from file `origin` (or
        `_NO_FILE`); merges repeated keys. False, and nothing changes, when file `origin`
        already added `key`: the line is a duplicate. `apostrophe`: the term was written with
        one (`won't`), so a contraction in the text may be part of it."""
        encoded = _symbols(key)
        old: int | None = self._automaton.get(encoded, None)
        categories: tuple[str, ...] = ()
        if origin == _VARIANT and old is not None and old != _PLACEHOLDER:
            return self._merge_variant(encoded, old, category)
        inherited: tuple[str, ...] = ()
        if old is not None and old != _PLACEHOLDER and self._set_origins[old >> _CATEGORIES_SHIFT] == _VARIANT:
            # A term written as another term's variant: a term of its own from now on, which still
            # reports the other term's categories (whichever of the two came first).
            inherited, old = self._category_sets[old >> _CATEGORIES_SHIFT], None
        if old is None or old == _PLACEHOLDER:
            flags = 0
            if is_latin_word_char(key[0]):
                flags |= _LATIN_START
            if is_latin_word_char(key[-1]):
                flags |= _LATIN_END
            self._longest_key = max(self._longest_key, len(key))
        else:
            set_id = old >> _CATEGORIES_SHIFT
            if origin != _NO_FILE and self._set_origins[set_id] == origin:
                if apostrophe and not old & _APOSTROPHE:  # `wont stop`, then `won't stop`: both spellings
                    self._automaton.add_word(encoded, old | _APOSTROPHE)
                return False
            flags, categories = old & _FLAGS, self._category_sets[set_id]
        if apostrophe:
            flags |= _APOSTROPHE
        if category is None:
            flags |= _ALLOW
        elif category not in categories:
            categories = (*categories, category)
            if origin != _VARIANT:
                self._counts[category] = self._counts.get(category, 0) + 1
        categories = (*categories, *(c for c in inherited if c not in categories))
        set_id, length = self._category_set_id(categories, origin), len(encoded) << _LENGTH_SHIFT
        self._automaton.add_word(encoded, (set_id << _CATEGORIES_SHIFT) | length | flags)
        return True

    def _merge_variant(self, encoded: str, old: int, category: str | None) -> bool:
        """A variant spelling that is a key already (a term's, or another variant): that key
        reports the variant's category too, or allows, as the variant's term does; nothing is
        counted, and the key keeps its origin (a term stays a term)."""
        set_id = old >> _CATEGORIES_SHIFT
        categories, origin = self._category_sets[set_id], self._set_origins[set_id]
        if category is None:
            if old & _ALLOW:
                return False
            self._automaton.add_word(encoded, old | _ALLOW)
            return True
        if category in categories:
            return False
        merged_id = self._category_set_id((*categories, category), origin)
        self._automaton.add_word(encoded, (merged_id << _CATEGORIES_SHIFT) | (old & ((1 << _CATEGORIES_SHIFT) - 1)))
        return True

    def _category_set_id(self, categories: tuple[str, ...], origin: int) -> int:
        """The id of the (categories, origin) entry of the category-set table, made if new."""
        set_id = self._category_set_ids.get((categories, origin))
        return self._new_category_set(categories, origin) if set_id is None else set_id

    def _new_category_set(self, categories: tuple[str, ...], origin: int) -> int:
        set_id = len(self._category_sets)
        if set_id == _MAX_CATEGORY_SETS:
            raise ValueError(
                f"keyword detector {self.name!r}: more than {_MAX_CATEGORY_SETS} distinct combinations of "
                "categories and files; split the lexicons over several keywords detectors"
            )
        self._category_set_ids[categories, origin] = set_id
        self._category_sets.append(categories)
        self._set_origins.append(origin)
        return set_id

    def detect(self, text: str) -> list[Finding]:
        """Findings for every accepted term hit, as spans of `text`, sorted by position.

        A text with symbols that read as letters is scanned once per reading (see
        `symbol_readings`): a term found in any reading counts, and so does an allow phrase,
        so `Sex Education™` is exempt although the reading where `™` spells `tm` sees no
        phrase there. Spans of the original text compare across readings: each reading
        replaces one character by one.
        """
        if self._empty:
            return []
        accepted, allowed = self._scan(text)
        for reading in symbol_readings(text):
            more_accepted, more_allowed = self._scan(reading)
            accepted += more_accepted
            allowed += more_allowed
        if not accepted:
            return []
        inside = _AllowIndex(allowed)
        findings = {
            Finding(self.name, KIND, category, start, end, 1.0, self.name)
            for categories, (start, end) in accepted
            if not inside.covers(start, end)
            for category in categories
        }
        return sorted(findings, key=lambda f: (f.start, f.end, f.category))

    def _scan(self, text: str) -> _Accepted:
        """The accepted term hits of one reading (categories, original span) and the original
        spans of its accepted allow-phrase hits."""
        folded = fold(text)
        encoded = _symbols(folded)
        raw_hits = self._walk(encoded)
        if not raw_hits:
            return [], []
        return self._accepted(text, folded, self._decode(folded, encoded, raw_hits))

    def _walk(self, encoded: str) -> list[tuple[int, int]]:
        """The automaton's matches in `encoded`. A long text is fed a chunk at a time to one
        search that keeps its state (`set`), so no C call holds the GIL for long."""
        if len(encoded) <= CHUNK_CHARS:
            return list(self._automaton.iter(encoded))
        search = self._automaton.iter(encoded[:CHUNK_CHARS])
        found = list(search)
        for at in range(CHUNK_CHARS, len(encoded), CHUNK_CHARS):
            search.set(encoded[at : at + CHUNK_CHARS])
            found.extend(search)
        return found

    def _decode(self, folded: str, encoded: str, raw_hits: list[tuple[int, int]]) -> list[_Hit]:
        """Automaton output (index of the last byte, packed value) -> spans of the folded text."""
        spans = [(end + 1 - ((value >> _LENGTH_SHIFT) & _LENGTH_MASK), end + 1) for end, value in raw_hits]
        if encoded is not folded:  # not ASCII: byte positions are not character positions
            to_char = _byte_to_char(encoded, {p for span in spans for p in span})
            spans = [(to_char[start], to_char[end]) for start, end in spans]
        sets = self._category_sets
        return [
            _Hit(start, end, value & _FLAGS, sets[value >> _CATEGORIES_SHIFT])
            for (start, end), (_, value) in zip(spans, raw_hits, strict=True)
        ]

    def _accepted(self, text: str, folded: str, hits: list[_Hit]) -> _Accepted:
        offsets = OffsetMap(text)
        accepted: list[tuple[tuple[str, ...], tuple[int, int]]] = []
        allowed: list[tuple[int, int]] = []
        for hit in hits:
            span = self._accept(hit, text, folded, offsets)
            if span is None:
                continue
            if hit.flags & _ALLOW:
                allowed.append(span)
            if hit.categories:
                accepted.append((hit.categories, span))
        return accepted, allowed

    def _accept(self, hit: _Hit, text: str, folded: str, offsets: OffsetMap) -> tuple[int, int] | None:
        """The original span of `hit` if it passes the span, gap and word-boundary checks."""
        first = max(hit.start - 1, 0)  # with the folded neighbours, for the boundary checks
        origin = offsets.original_indices(first, min(hit.end + 1, len(folded)))
        inner = origin[hit.start - first : hit.end - first]
        start, end = inner[0], inner[-1] + 1
        for index, (before, after) in enumerate(pairwise(inner)):
            if after - before - 1 > self.max_gap and gap_count(text, before + 1, after) > self.max_gap:
                return None
            if (not hit.flags & _APOSTROPHE and after - before > 1 and _apostrophes_only(text, before + 1, after)
                    and _contraction_at(text, after) and is_latin_word_char(folded[hit.start + index])):
                return None  # a contraction's ending is not part of a term: `he'll` is not `hell`
        if _inside_word(hit, text, folded, origin, inner):
            return None
        return start, end


def _variants_into(lines: KeyedLines) -> PhraseVariants:
    """Variant spellings of the terms added to `lines`, added to it too (see `_VARIANT`)."""
    return PhraseVariants(lambda key, category, _origin, line, apostrophe:
                          lines.append(key, category, _VARIANT, line, apostrophe))


def _inside_word(hit: _Hit, text: str, folded: str, origin: list[int], inner: list[int]) -> bool:
    """Whether a Latin end of the term continues a word: `ass` in `class`, `sex` in `sexy`;
    or its last Hangul syllable goes on (`보지` in `보직`).
    A contraction's ending (`'s`, `'ll` ... ending the word) is the end of a word, never a
    start (`what's hit` holds no `shit`); a word may end before one (`shit's` holds `shit`).

    `origin` is `inner` (the original index of each matched character) with the original
    index of the folded characters just before and after the hit, where there are some.
    """
    before = hit.start > 0 and is_latin_word_char(folded[hit.start - 1])
    if hit.flags & _LATIN_START and before and (
        _joined(text, origin[0], inner[0])
        or (_apostrophes_only(text, origin[0] + 1, inner[0]) and _contraction_at(text, inner[0]))
    ):
        return True
    if hit.end < len(folded) and _is_final_consonant(folded[hit.end]) and _joined(text, inner[-1], origin[-1]):
        return True  # the hit ends inside a Hangul syllable: `보지` is not in `보직`
    after = hit.end < len(folded) and is_latin_word_char(folded[hit.end])
    return bool(hit.flags & _LATIN_END and after and _joined(text, inner[-1], origin[-1]))


def _is_final_consonant(ch: str) -> bool:
    """A Hangul final consonant (jongseong): the fold reads a syllable as its jamo, so one
    after a hit continues the hit's last syllable (review)."""
    return "\u11a8" <= ch <= "\u11ff" or "\ud7cb" <= ch <= "\ud7fb"


def _joined(text: str, left: int, right: int) -> bool:
    """Whether original characters `left` <= `right` read as one word: the same character
    (a hit boundary inside an expansion such as ``ﬁ``) or only invisible ones between."""
    return visible_separator_count(text, left + 1, right) == 0


def _symbols(text: str) -> str:
    """`text` as the automaton's symbols: its UTF-8 bytes, one character each (the text itself,
    the same object, when it is ASCII: `_decode` relies on that)."""
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


def _has_apostrophe(written: str) -> bool:
    return any(ch in _WRITTEN_APOSTROPHES for ch in written)


#: Apostrophes as contractions and possessives write them: inside a word, not between words.
_APOSTROPHES = frozenset("'\u2019\u02bc\uff07")
#: ... and what a lexicon may have typed for one (auto-corrected quotes, accents, primes).
_WRITTEN_APOSTROPHES = _APOSTROPHES | frozenset("\u2018\u00b4`\u2032\u02b9")


#: What English writes after an apostrophe to end a word, and after which words: `'s` after
#: any (`what's`, `1990's`, `B's`), `'t` after the auxiliaries that take `n't` (`don't`,
#: `can't`, `won't`: a closed set, so `cun't` is no contraction), the rest after pronouns and
#: a few verbs (`he'll`, `you're`, `could've`, `I'm`).
_PRONOUNS = frozenset({"i", "you", "he", "she", "it", "we", "they", "who", "what", "that", "there", "this",
                       "where", "how", "why", "here"})
_NOT_CONTRACTED = frozenset({
    "don", "doesn", "didn", "can", "couldn", "won", "wouldn", "shouldn", "isn", "aren", "wasn", "weren",
    "hasn", "haven", "hadn", "mustn", "needn", "mightn", "shan", "ain", "daren", "oughtn", "mayn",
})
_CONTRACTION_ENDINGS: dict[str, frozenset[str] | None] = {
    "s": None,
    "t": _NOT_CONTRACTED,
    "d": _PRONOUNS,
    "ll": _PRONOUNS,
    "re": _PRONOUNS,
    "m": frozenset({"i"}),
    "ve": _PRONOUNS | {"could", "would", "should", "might", "must"},
}


def _contraction_at(text: str, start: int) -> bool:
    """Whether `text[start:]`, right after an apostrophe, is a contraction's ending: one of
    `_CONTRACTION_ENDINGS` ending the word (a closing quote may follow), after a word it goes
    with. `casi'no`, `shi't`, `rock'n'roll`, `l'online` and `s'h'i't` are not, so an
    apostrophe inside a term (or put there to hide it) changes nothing."""
    end = start
    while end < len(text) and text[end].isascii() and text[end].isalpha() and end - start < 3:
        end += 1
    ending = text[start:end].lower()
    if ending not in _CONTRACTION_ENDINGS or not _word_ends(text, end):
        return False
    head = start - 1
    while head >= 0 and (text[head] in _APOSTROPHES or is_invisible(text[head])):
        head -= 1
    first = head
    while first >= 0 and text[first].isascii() and text[first].isalnum() and head - first < 8:
        first -= 1
    word = text[first + 1 : head + 1].lower()
    if not word or (len(word) == 1 and first >= 0 and text[first] in _APOSTROPHES):  # `s'h'i't`: spelled out
        return False
    allowed = _CONTRACTION_ENDINGS[ending]
    return allowed is None or word in allowed


def _word_ends(text: str, index: int) -> bool:
    """Whether a word ends at `index`: nothing, or no letter or digit, follows (a closing quote may)."""
    if index < len(text) and text[index] in _APOSTROPHES:
        index += 1
    return index >= len(text) or not text[index].isalnum()


def _apostrophes_only(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` holds an apostrophe and nothing else visible."""
    between = text[start:end]
    return any(ch in _APOSTROPHES for ch in between) and all(
        ch in _APOSTROPHES or is_invisible(ch) for ch in between
    )


def _byte_to_char(encoded: str, positions: set[int]) -> dict[int, int]:
    """Character index in the folded text of each UTF-8 byte position (a character boundary)."""
    data = encoded.encode("latin-1")
    result: dict[int, int] = {}
    previous = chars = 0
    for position in sorted(positions):
        chars += len(data[previous:position].translate(None, _CONTINUATION_BYTES))
        result[position] = chars
        previous = position
    return result


class _AllowIndex:
    """Answers "is [start, end) inside one allow-phrase hit?" in O(log n)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        spans.sort()
        self._starts = [start for start, _ in spans]
        self._reach: list[int] = []
        reach = -1
        for _, end in spans:
            reach = max(reach, end)
            self._reach.append(reach)

    def covers(self, start: int, end: int) -> bool:
        index = bisect_right(self._starts, start) - 1
        return index >= 0 and self._reach[index] >= end


def _checked_key(text: str, where: str) -> str:
    key = fold(text)
    if not key:
        raise ValueError(f"{where}: {text!r} is empty after normalization")
    if len(key) > MAX_TERM_CHARS:
        raise ValueError(f"{where}: folds to {len(key)} characters, the limit is {MAX_TERM_CHARS}")
    return key
