"""What a policy decided about texts it has seen: chat clients send the whole conversation again
with every turn, so without this each earlier message is scanned once per turn after it.

A text is remembered by a keyed BLAKE2b digest (a random key per cache, so digests mean
nothing outside this process and cannot be precomputed), never by the text; what is kept is
the decision's hits (kinds, offsets, scores, rule ids) and action, from which the redacted
text is rebuilt. A decision in which a detector failed is not kept: it is retried. Entries
are evicted least recently used first. Each policy has its own cache, so a reloaded policy
(a new banned term) starts empty.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict

from policies.actions import Hit
from policies.findings import Action, Direction

#: Shorter texts are not remembered: scanning them costs about what looking them up does.
MIN_CACHED_CHARS = 32


class DecisionCache:
    """`get(direction, text)` -> (action, hits) decided before, or None; `put` remembers one."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._key = os.urandom(32)
        self._remembered: OrderedDict[bytes, tuple[Action, tuple[Hit, ...]]] = OrderedDict()
        self._lock = threading.Lock()  # requests are guarded on worker threads too

    def __len__(self) -> int:
        return len(self._remembered)

    def get(self, direction: Direction, text: str) -> tuple[Action, tuple[Hit, ...]] | None:
        if not self.entries or len(text) < MIN_CACHED_CHARS:
            return None
        digest = self._digest(direction, text)
        with self._lock:
            found = self._remembered.get(digest)
            if found is not None:
                self._remembered.move_to_end(digest)
            return found

    def put(self, direction: Direction, text: str, action: Action, hits: tuple[Hit, ...]) -> None:
        if not self.entries or len(text) < MIN_CACHED_CHARS:
            return
        digest = self._digest(direction, text)
        with self._lock:
            self._remembered[digest] = (action, hits)
            self._remembered.move_to_end(digest)
            while len(self._remembered) > self.entries:
                self._remembered.popitem(last=False)

    def _digest(self, direction: Direction, text: str) -> bytes:
        keyed = hashlib.blake2b(direction.value.encode("ascii"), key=self._key, digest_size=16)
        keyed.update(b"\0")
        keyed.update(text.encode("utf-8", "surrogatepass"))  # a lone surrogate is a text too
        return keyed.digest()
