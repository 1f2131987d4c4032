"""Lexicon lines collected as read and handed out in key order, for a cache-friendly trie.

pyahocorasick allocates a trie node per key symbol as keys are added, one `malloc` each, so a
trie's memory layout follows the order its keys arrived in. Added in file order, the nodes
along any one path lie megabytes apart, and a scan of a million-term automaton, which walks
such paths at every byte, waits on memory at almost every step. Added in sorted order, each
subtree's nodes lie together; and the nodes of the first three levels, which nearly every
scan step visits, are allocated before any other, side by side (`top_prefixes`).

A million-term build holds every line until it is sorted, so the lines are kept in a few flat
buffers, about 40 bytes a line: the keys' UTF-8 back to back, the category of each (a string
shared by many lines) and small numbers in arrays. Sorting goes one bucket of keys (those
sharing their first two bytes, then two more where a bucket is big) at a time, so only a
bucket's keys are ever objects at once (all of them, where nearly all keys share a long start).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

#: Keys are sorted in buckets by their first two bytes; the trie's first three levels (each
#: bucket's two bytes and the third bytes its keys go on with) are allocated first.
_BUCKET_BYTES = 2

#: The most keys sorted as one list of objects; a bigger bucket is split further first, if
#: no part of it holds more than `_SPLIT_AT_MOST` of its keys.
SORTED_AT_ONCE = 65_536
_SPLIT_AT_MOST = 0.9

#: (key, category or None for an allow phrase, origin file, line number, written with an apostrophe)
KeyedLine = tuple[str, str | None, int, int, bool]


class KeyedLines:
    """Lines in read order; `in_key_order` yields them sorted by key, lines with equal keys
    in the order they were read (so the first line of a key is still the first added)."""

    def __init__(self) -> None:
        self._utf8 = bytearray()  # every key, back to back
        self._ends = array("Q")  # where each key ends in `_utf8`
        self._categories: list[str | None] = []
        self._shared: dict[str, str] = {}
        self._origins = array("I")
        self._lines = array("I")
        self._apostrophes = bytearray()
        self._buckets: dict[bytes, array[int]] = {}  # first bytes -> indices of its lines, in order
        self._third_bytes: dict[bytes, bytearray] = {}  # first bytes -> a flag per byte that follows them

    def __len__(self) -> int:
        return len(self._ends)

    def append(self, key: str, category: str | None, origin: int, line: int, apostrophe: bool) -> None:
        encoded = key.encode("utf-8")
        index = len(self._ends)
        self._utf8 += encoded
        self._ends.append(len(self._utf8))
        # Each line's category is a string of its own as read: keep one of each.
        self._categories.append(None if category is None else self._shared.setdefault(category, category))
        self._origins.append(origin)
        self._lines.append(line)
        self._apostrophes.append(apostrophe)
        head = encoded[:_BUCKET_BYTES]
        bucket = self._buckets.get(head)
        if bucket is None:
            bucket = self._buckets[head] = array("I")
            self._third_bytes[head] = bytearray(256)
        bucket.append(index)
        if len(encoded) > _BUCKET_BYTES:
            self._third_bytes[head][encoded[_BUCKET_BYTES]] = 1

    def in_key_order(self) -> Iterator[KeyedLine]:
        """The lines sorted by the UTF-8 bytes of their keys (code point order), stably; once (the
        buffer of keys is handed over to the sort, so nothing can be appended after)."""
        utf8, ends = bytes(self._utf8), self._ends  # a `bytes` slice is the smaller sort key
        self._utf8 = bytearray()
        for head in sorted(self._buckets):
            for index in self._sorted(utf8, self._buckets[head], _BUCKET_BYTES):
                yield (utf8[self._start(index) : ends[index]].decode("utf-8"), self._categories[index],
                       self._origins[index], self._lines[index], self._apostrophes[index] == 1)

    def _sorted(self, utf8: bytes, indices: array[int], known: int) -> Iterator[int]:
        """`indices` (of keys that share their first `known` bytes) in key order, stably. A
        bucket too big to sort at once (a list of names: many keys start `zhang`) is split by
        the next two bytes first, so no more than `SORTED_AT_ONCE` keys are objects at once,
        unless nearly all go on alike (a list of URLs: `wwwexample…`), which is sorted at once
        rather than split a byte pair at a time along the shared part."""
        ends, start = self._ends, self._start

        def key(index: int) -> bytes:
            return utf8[start(index) : ends[index]]

        if len(indices) <= SORTED_AT_ONCE:
            yield from sorted(indices, key=key)
            return
        groups: dict[bytes, array[int]] = {}
        for index in indices:
            at = start(index) + known
            group = groups.get(utf8[at : min(at + _BUCKET_BYTES, ends[index])])
            if group is None:
                group = groups[utf8[at : min(at + _BUCKET_BYTES, ends[index])]] = array("I")
            group.append(index)
        if max(map(len, groups.values())) > _SPLIT_AT_MOST * len(indices):
            yield from sorted(indices, key=key)
            return
        for next_bytes in sorted(groups):  # b"" (keys that end here) first, as a prefix sorts first
            if next_bytes:
                yield from self._sorted(utf8, groups[next_bytes], known + _BUCKET_BYTES)
            else:
                yield from groups[next_bytes]  # equal keys, in the order they were read

    def _start(self, index: int) -> int:
        return self._ends[index - 1] if index else 0

    def top_prefixes(self) -> list[str]:
        """The distinct prefixes of up to three bytes of the keys, as automaton symbols (one
        character per byte), shortest first: the trie's first levels, breadth first."""
        prefixes = {head[:length] for head in self._buckets for length in range(1, len(head) + 1)}
        for head, flags in self._third_bytes.items():
            prefixes.update(head + bytes((third,)) for third, flag in enumerate(flags) if flag)
        return [prefix.decode("latin-1") for prefix in sorted(prefixes, key=lambda prefix: (len(prefix), prefix))]
