"""The detector protocol: text in, findings out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from policies.findings import Finding


@runtime_checkable
class Detector(Protocol):
    """A compiled, immutable detector.

    `detect` is called once per text to guard (a whole message, or a streaming window) and
    must not mutate any state: one detector instance serves every request concurrently.
    `max_match_chars` is the longest span, in characters of the *original* text, that one
    finding can cover; the streaming scanner holds back that many characters minus one.
    """

    name: str
    max_match_chars: int

    def detect(self, text: str) -> list[Finding]: ...
