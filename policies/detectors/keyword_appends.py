"""Lines appended to a lexicon, live without rebuilding its automaton.

An emergency term usually arrives as one more line at the end of a lexicon
(``echo '新词<TAB>A.1.h' >> library.txt``). Building a million-term automaton again takes about
7 seconds and holds a second 300 MB automaton meanwhile. `AppendedKeywords` serves the
automaton that was built (shared and untouched, so requests in flight keep using it) next to a
small one of the lines past each file's `FileMark`, and finds exactly what a build of the whole
files would:

- each automaton judges its own hits (gaps, word boundaries, allowlist: both carry the
  allowlist), so the union of their findings is the whole build's, and the earlier of their
  stream hold-backs is the whole build's;
- an appended line whose key the built automaton already reports under the same category adds
  nothing; one that would give such a key another category raises `KnownKeyChanged`, and the
  caller builds afresh (`loader.py`), as it does past `MAX_APPENDED_LINES` appended lines.

Later appends layer onto the same built automaton: the small one is read again from the same
marks, so it always holds everything appended since the last whole build.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

from policies.detectors.keywords import KeywordDetector
from policies.findings import Finding
from policies.lexicon import FileMark

#: Appended lines, over all files of one detector, past which a whole build is cheaper to serve.
MAX_APPENDED_LINES = 50_000


class AppendedKeywords:
    """A built `KeywordDetector` (`base`, read up to `marks`) plus the lines appended since."""

    def __init__(self, base: KeywordDetector, marks: Sequence[FileMark], appended: KeywordDetector) -> None:
        self.name = base.name
        self.base = base
        self.marks = tuple(marks)
        self.max_match_chars = max(base.max_match_chars, appended.max_match_chars)
        self._layers = (base, appended)
        self.appended_terms = appended.term_count
        self.term_count = base.term_count + appended.term_count

    @classmethod
    def build(
        cls,
        base: KeywordDetector,
        marks: Sequence[FileMark],
        files: Sequence[tuple[Path, str | None]],
        allowed_categories: AbstractSet[str] | None,
        allowlist: Iterable[str],
        max_gap: int,
    ) -> AppendedKeywords:
        """`base` with the lines of `files` past `marks`; raises `KnownKeyChanged` (see above)."""
        appended = KeywordDetector.from_lexicons(
            base.name, files, allowed_categories, allowlist, max_gap, starts=marks, known=base
        )
        return cls(base, marks, appended)

    def detect(self, text: str) -> list[Finding]:
        built, appended = (layer.detect(text) for layer in self._layers)
        if not appended:
            return built
        return sorted(set(built) | set(appended), key=lambda f: (f.start, f.end, f.category))

    def hold_from(self, text: str) -> int:
        return min(layer.hold_from(text) for layer in self._layers)

    def counts_by_category(self) -> dict[str, int]:
        counts = self.base.counts_by_category()
        for category, count in self._layers[1].counts_by_category().items():
            counts[category] = counts.get(category, 0) + count
        return counts

    def keys_by_category(self) -> dict[str, set[str]]:
        keys = self.base.keys_by_category()
        for category, more in self._layers[1].keys_by_category().items():
            keys.setdefault(category, set()).update(more)
        return keys
