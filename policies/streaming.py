"""Incremental guarding of streamed text: `StreamScanner.feed(delta)` and `flush()`.

A scanner holds back only the trailing characters that a redacting or blocking detector could
still be matching, and releases everything before them at once, already redacted. A detector
that can tell where a match may still be in progress says so with `hold_from(text)` (the
keyword detector: the longest tail that is a prefix of a term); for others the scanner holds
their longest match minus one (`Policy.hold_back_chars` is the bound over all of them).
It rescans a bounded window each time: a little released context (for word
boundaries and context words), plus the unreleased tail. So a match split across any chunk
boundary is found, and the released text equals the non-streamed decision on the whole text
for every match no longer than its detector's declared `max_match_chars`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from policies.actions import Hit, redact_spans
from policies.detectors.base import Detector
from policies.engine import Policy
from policies.findings import Action, Direction
from policies.light_view import kept_tail_start, light_fold

#: Released characters kept for the next scan: enough for word boundaries and context words,
#: counted as the PII view counts them (marks and zero-width characters do not count), up to
#: `MAX_CONTEXT_CHARS` in all.
CONTEXT_CHARS = 32
MAX_CONTEXT_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Release:
    """What one `feed` or `flush` lets through.

    `text` may be sent to the client now. `hits` are the findings settled in this release,
    with offsets into the whole stream; each finding is reported exactly once over a stream.
    `matched` holds each hit's original text, only so the audit trail can hash it. When
    `blocked`, nothing more may be sent for this stream; `overflow` says the block came from
    the hold-back bound, and `failed` names detectors that raised.
    """

    text: str
    hits: tuple[Hit, ...] = ()
    matched: tuple[str, ...] = ()
    blocked: bool = False
    overflow: bool = False
    failed: tuple[str, ...] = ()
    timings: tuple[tuple[str, float], ...] = ()


_NOTHING = Release("")


class StreamScanner:
    """Guards one text stream (one choice's content, or one tool call's arguments)."""

    def __init__(self, policy: Policy, direction: Direction) -> None:
        self.policy = policy
        self.direction = direction
        self.hold_back_chars = policy.hold_back_chars(direction)
        self.max_pending_chars = policy.spec.stream.max_pending_chars
        self._active = bool(policy.stages(direction))
        self._holds = [_hold_rule(stage.detector) for stage in policy.stages(direction) if stage.changes_text]
        self._context = ""
        self._context_short = False
        self._pending = ""
        self.blocked = False
        self.released_chars = 0

    @property
    def pending_chars(self) -> int:
        return len(self._pending)

    @property
    def rescanned(self) -> str:
        """What the next `feed` (or `flush`) scans again besides its own text: the text held
        back, and the context kept before it."""
        return self._context + self._pending if self._pending else ""

    def feed(self, delta: str) -> Release:
        if self.blocked or not delta:  # nothing new: nothing more can be released
            return _NOTHING
        if not self._active:
            self.released_chars += len(delta)
            return Release(delta)
        self._pending += delta
        if not self._holds and len(self._pending) <= self.hold_back_chars:
            return _NOTHING
        return self._release(final=False)

    def flush(self) -> Release:
        """At end of stream: everything still held back is settled and released."""
        if self.blocked or not self._pending:
            return _NOTHING
        return self._release(final=True)

    def _release(self, final: bool) -> Release:
        if self._context_short and self.policy.spec.stream.on_overflow == "block":
            # The text sent last ended in more characters the PII view deletes than the context
            # kept for this scan can hold: a context word before them would go unseen here.
            self.blocked = True
            return Release("", blocked=True, overflow=True)
        ctx = len(self._context)
        window = self._context + self._pending
        hits, failed, timings = self.policy.detect(window, self.direction)
        live = [hit for hit in hits if hit.finding.end > ctx]
        late = any(hit.action in _WITHHELD and hit.finding.start < ctx for hit in live)
        if late and self.policy.spec.stream.on_overflow == "block":
            # A match began in text already sent: it was longer than any hold-back allowed for
            # (an e-mail address over 80 characters). Stop rather than send the rest of it.
            self.blocked = True
            return Release("", blocked=True, overflow=True, timings=tuple(timings))
        cut = len(window) if final else max(ctx, min((hold(window) for hold in self._holds), default=len(window)))
        cut = _settle_cut(live, cut, ctx)
        overflow = len(window) - cut > self.max_pending_chars
        if overflow:  # a sentence-scoped detector saw no sentence end in time
            if self.policy.spec.stream.on_overflow == "block":
                self.blocked = True
                return Release("", blocked=True, overflow=True, timings=tuple(timings))
            cut = _settle_cut(live, max(cut, len(window) - self.hold_back_chars), ctx)
        settled = [hit for hit in live if hit.finding.end <= cut]
        action = self.policy.decide(settled, failed)
        origin = self.released_chars - ctx  # stream offset of window[0]: hits are reported in it
        reported = tuple(_shifted(hit, origin) for hit in settled)
        matched = tuple(window[hit.finding.start : hit.finding.end] for hit in settled)
        if action is Action.BLOCK:
            self.blocked = True
            return Release("", reported, matched, blocked=True, failed=tuple(failed), timings=tuple(timings))
        redactions = [_clipped(hit, ctx) for hit in settled if hit.action is Action.REDACT]
        text = redact_spans(window[ctx:cut], redactions, self.policy.salt)
        start, self._context_short = _context_start(window, cut)
        self._context = window[start:cut]
        self._pending = window[cut:]
        self.released_chars += cut - ctx
        return Release(text, reported, matched, overflow=overflow, failed=tuple(failed), timings=tuple(timings))


def _context_start(window: str, cut: int) -> tuple[int, bool]:
    """Where the released context kept for the next scan begins: `CONTEXT_CHARS` characters
    before `cut` that the PII view keeps (it reads context words 32 of its characters back),
    and whether `MAX_CONTEXT_CHARS` cut that short (then the next scan is not the whole
    text's: `on_overflow` decides)."""
    floor = max(0, cut - MAX_CONTEXT_CHARS)
    kept = kept_tail_start(window[floor:cut], CONTEXT_CHARS) + floor
    start = max(floor, min(cut - CONTEXT_CHARS, kept))
    return start, floor > 0 and kept == floor and len(light_fold(window[floor:cut])) < CONTEXT_CHARS


def _hold_rule(detector: Detector) -> Callable[[str], int]:
    """Where a detector needs the text held from: its own `hold_from` if it knows (a keyword
    prefix, an identifier still being written), else a fixed window of its longest match."""
    hold_from: Callable[[str], int] | None = getattr(detector, "hold_from", None)
    if hold_from is not None:
        return hold_from
    window = detector.max_match_chars - 1
    return lambda text: len(text) - window


_WITHHELD = (Action.REDACT, Action.BLOCK)


def _settle_cut(hits: list[Hit], cut: int, floor: int) -> int:
    """Move the release point back before any redact/block match it would split."""
    moved = True
    while moved:
        moved = False
        for hit in hits:
            if hit.action in (Action.REDACT, Action.BLOCK) and hit.finding.start < cut < hit.finding.end:
                earlier = max(floor, hit.finding.start)
                if earlier < cut:  # the cut only moves back, and never below `floor`: this ends
                    cut, moved = earlier, True
    return cut


def _shifted(hit: Hit, offset: int) -> Hit:
    return Hit(hit.finding.shifted(offset), hit.rule, hit.action, hit.style, hit.replacement)


def _clipped(hit: Hit, ctx: int) -> Hit:
    """The hit in coordinates of the unreleased text; released characters cannot be taken back."""
    finding = hit.finding.shifted(-ctx)
    if finding.start < 0:
        finding = replace(finding, start=0)
    return Hit(finding, hit.rule, hit.action, hit.style, hit.replacement)
