"""What a policy decided about texts it has seen: chat clients send the whole conversation again
with every turn, so without this each earlier message is scanned once per turn after it.

A text is remembered by a keyed BLAKE2b digest (a random key per cache, so digests mean
nothing outside this process and cannot be precomputed), never by the text; what is kept is
the decision's hits (kinds, offsets, scores, rule ids) and action, from which the redacted
text is rebuilt. Entries are evicted least recently used first. Not kept:

- a decision in which a detector failed: it is retried;
- a decision with more than `MAX_CACHED_HITS` hits, so that an entry stays small (a 64 KB text
  of e-mail addresses would hold megabytes of hits);
- completions: an answer is new text, and comes back as a prompt in the next turn.

The digest covers a scope, the client's id in the proxy: a client cannot learn from how fast
its request was guarded whether another client sent the same text. Each policy has its own
cache, so a reloaded policy (a new banned term) starts empty, and the cache empties when the
date changes (a resident ID's birth date may not lie in the future: tomorrow it may).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from policies.actions import Hit
from policies.findings import Action, Direction

#: Shorter texts are not remembered: scanning them costs about what looking them up does.
MIN_CACHED_CHARS = 32
#: Decisions with more hits than this are not remembered (an entry is then at most ~10 kB).
MAX_CACHED_HITS = 32


class DecisionCache:
    """`get(direction, text)` -> (action, hits) decided before, or None; `put` remembers one."""

    def __init__(self, entries: int, today: Callable[[], date] = date.today) -> None:
        self.entries = entries
        self._key = os.urandom(32)
        self._remembered: OrderedDict[bytes, tuple[Action, tuple[Hit, ...]]] = OrderedDict()
        self._today = today
        self._day = today()
        self._lock = threading.Lock()  # requests are guarded on worker threads too

    def __len__(self) -> int:
        return len(self._remembered)

    def get(self, direction: Direction, text: str, scope: str = "") -> tuple[Action, tuple[Hit, ...]] | None:
        if not self._keeps(direction, text):
            return None
        digest = self._digest(text, scope)
        with self._lock:
            self._forget_a_past_day()
            found = self._remembered.get(digest)
            if found is not None:
                self._remembered.move_to_end(digest)
            return found

    def put(self, direction: Direction, text: str, action: Action, hits: tuple[Hit, ...], scope: str = "") -> None:
        if not self._keeps(direction, text) or len(hits) > MAX_CACHED_HITS:
            return
        digest = self._digest(text, scope)
        with self._lock:
            self._forget_a_past_day()
            self._remembered[digest] = (action, hits)
            self._remembered.move_to_end(digest)
            while len(self._remembered) > self.entries:
                self._remembered.popitem(last=False)

    def _keeps(self, direction: Direction, text: str) -> bool:
        return bool(self.entries) and direction is Direction.PROMPT and len(text) >= MIN_CACHED_CHARS

    def _forget_a_past_day(self) -> None:
        today = self._today()
        if today != self._day:
            self._remembered.clear()
            self._day = today

    def _digest(self, text: str, scope: str) -> bytes:
        keyed = hashlib.blake2b(scope.encode("utf-8", "surrogatepass"), key=self._key, digest_size=16)
        keyed.update(b"\0")
        keyed.update(text.encode("utf-8", "surrogatepass"))  # a lone surrogate is a text too
        return keyed.digest()
