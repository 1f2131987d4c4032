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

    Optional: ``max_chars_for(kinds: frozenset[str] | None) -> int``, the same bound for
    findings of `kinds` only (all kinds when None; 0 when the detector never reports any of
    them). `Policy` calls it once at load time for each redact/block rule narrowed by `kinds`,
    so a stream waits only as long as the kinds that can change the text need; without it,
    `max_match_chars` is used. Not part of the protocol's members, so that detectors without
    it still satisfy `isinstance(x, Detector)`.
    """

    name: str
    max_match_chars: int

    def detect(self, text: str) -> list[Finding]: ...
