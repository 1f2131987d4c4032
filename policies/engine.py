"""The guard engine: `Policy.evaluate(text, direction) -> Decision`.

Pure Python, no HTTP. A `Policy` is compiled once (see `loader.py`) and is immutable, so one
instance serves every request at once and a reload swaps in a new one atomically; requests in
flight finish on the policy they started with.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from policies.actions import Hit, redact_spans
from policies.config import PolicySpec, RuleSpec
from policies.decision_cache import DecisionCache
from policies.detectors.base import Detector
from policies.findings import SEVERITY, Action, Direction, Finding

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    spec: RuleSpec
    kinds: frozenset[str] | None
    categories: frozenset[str] | None

    @classmethod
    def compile(cls, spec: RuleSpec, detector: Detector | None = None) -> CompiledRule:
        """The rule; a redact or block rule's `kinds` widened by what its detector finds in
        their place, if it says (`kinds_taken`: a rule for `PHONE_NUMBER` takes a `CN_MOBILE`).
        A monitor rule is not widened: the first rule that accepts a finding decides, and it
        would take the finding from a later rule that redacts it (review)."""
        kinds = frozenset(spec.kinds) if spec.kinds else None
        kinds_taken = getattr(detector, "kinds_taken", None)
        if kinds is not None and kinds_taken is not None and spec.action in (Action.REDACT, Action.BLOCK):
            kinds = frozenset(kinds_taken(kinds))
        return cls(spec, kinds, frozenset(spec.categories) if spec.categories else None)

    def accepts(self, finding: Finding) -> bool:
        return (
            (self.kinds is None or finding.kind in self.kinds)
            and (self.categories is None or finding.category in self.categories)
            and finding.score >= self.spec.min_score
        )

    def hit(self, finding: Finding) -> Hit:
        return Hit(finding, self.spec.id, self.spec.action, self.spec.style, self.spec.replacement)


@dataclass(frozen=True, slots=True)
class Stage:
    """One detector and, in order, the rules of one direction that take its findings."""

    name: str
    detector: Detector
    rules: tuple[CompiledRule, ...]

    @property
    def changes_text(self) -> bool:
        """Whether a finding of this stage can redact or block (and so must be held back in streams)."""
        return any(rule.spec.action in (Action.REDACT, Action.BLOCK) for rule in self.rules)

    @property
    def hold_back_chars(self) -> int:
        """Characters a stream must hold back for this stage: the longest match that one of its
        redact/block rules can take, less one. A rule narrowed to some `kinds` asks the
        detector for those kinds only (`max_chars_for`), so a stage that redacts `CN_MOBILE`
        need not wait as long as a URL could be."""
        changing = [rule for rule in self.rules if rule.spec.action in (Action.REDACT, Action.BLOCK)]
        longest = max((_max_chars(self.detector, rule.kinds) for rule in changing), default=0)
        return max(0, longest - 1)


def _max_chars(detector: Detector, kinds: frozenset[str] | None) -> int:
    """The detector's bound for findings of `kinds`; its overall bound if it cannot tell."""
    max_chars_for = getattr(detector, "max_chars_for", None)
    if kinds is None or max_chars_for is None:
        return detector.max_match_chars
    return int(max_chars_for(kinds))


@dataclass(frozen=True, slots=True)
class Decision:
    """What the guard decided for one text.

    `text` is what may be forwarded (redacted where the action is REDACT); for BLOCK it is the
    original and must not be forwarded. `failed` names detectors that raised; with the
    policy's default `on_error: block` their failure alone blocks the text (fail closed).
    `timings` are the detectors' seconds on this text (none when `cached`).
    """

    direction: Direction
    action: Action
    text: str
    hits: tuple[Hit, ...]
    failed: tuple[str, ...] = ()
    timings: tuple[tuple[str, float], ...] = ()
    #: Taken from the policy's `DecisionCache` (the text was seen before): no detector ran.
    cached: bool = False

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK

    @property
    def changed(self) -> bool:
        return self.action is Action.REDACT


class Policy:
    """A compiled policy: detectors and per-direction rules, ready to evaluate text."""

    def __init__(
        self,
        spec: PolicySpec,
        detectors: Mapping[str, Detector],
        files: Sequence[Path] = (),
        salt: bytes = b"",
        inputs: Mapping[str, object] | None = None,
        read_stamps: tuple[tuple[str, int, int], ...] = (),
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.version = spec.version
        self.refusal_message = spec.refusal_message
        self.detectors = dict(detectors)
        self.files = tuple(files)
        self.salt = salt
        #: What each detector was built from (see `loader.detector_inputs`), for a reload.
        self.inputs = dict(inputs or {})
        #: Path, mtime and size of each of `files` from before it was read: a change made while
        #: the policy was being built still shows against these (see `proxy.reload`).
        self.read_stamps = read_stamps
        self._stages = {direction: self._plan(direction) for direction in Direction}
        self._hold_back = {
            direction: max((stage.hold_back_chars for stage in stages), default=0)
            for direction, stages in self._stages.items()
        }
        self.decisions = DecisionCache(spec.decision_cache)

    def _plan(self, direction: Direction) -> tuple[Stage, ...]:
        specs = self.spec.prompt if direction is Direction.PROMPT else self.spec.completion
        stages = []
        for name, detector in self.detectors.items():  # the detectors' order is the run order
            rules = tuple(CompiledRule.compile(r, detector) for r in specs if r.detector == name)
            if rules:
                stages.append(Stage(name, detector, rules))
        return tuple(stages)

    def stages(self, direction: Direction) -> tuple[Stage, ...]:
        return self._stages[direction]

    def hold_back_chars(self, direction: Direction) -> int:
        """Characters a stream must hold back so no redact/block match is released half-seen."""
        return self._hold_back[direction]

    @property
    def term_count(self) -> int:
        return sum(int(getattr(d, "term_count", 0)) for d in self.detectors.values())

    def detect(self, text: str, direction: Direction) -> tuple[list[Hit], list[str], list[tuple[str, float]]]:
        """Run every stage of `direction`: the hits, the detectors that failed, their timings."""
        hits: list[Hit] = []
        failed: list[str] = []
        timings: list[tuple[str, float]] = []
        for stage in self._stages[direction]:
            started = time.perf_counter()
            try:
                findings = stage.detector.detect(text)
            except Exception as exc:  # a detector bug must not take the proxy down: fail by policy
                # The exception's message may quote the text: log its type and frames only.
                log.error("detector %s failed (%s) on a %d-character %s text\n%s", stage.name, type(exc).__name__,
                          len(text), direction, "".join(traceback.format_tb(exc.__traceback__)))
                failed.append(stage.name)
                continue
            finally:
                timings.append((stage.name, time.perf_counter() - started))
            for finding in findings:
                for rule in stage.rules:
                    if rule.accepts(finding):
                        hits.append(rule.hit(finding))
                        break
        return hits, failed, timings

    def decide(self, hits: Sequence[Hit], failed: Sequence[str]) -> Action:
        action = max((hit.action for hit in hits), key=SEVERITY.__getitem__, default=Action.ALLOW)
        if failed and self.spec.on_error == "block":
            return Action.BLOCK
        return action

    def evaluate(self, text: str, direction: Direction, scope: str = "") -> Decision:
        """The decision on `text`; one on a prompt seen before in the same `scope` (the proxy
        passes the client's id) comes from the decision cache."""
        if not text:
            return Decision(direction, Action.ALLOW, text, ())
        remembered = self.decisions.get(direction, text, scope)
        if remembered is not None:
            action, hits = remembered
            return Decision(direction, action, self._rewritten(text, action, hits), hits, cached=True)
        found, failed, timings = self.detect(text, direction)
        action, hits = self.decide(found, failed), tuple(found)
        if not failed:
            self.decisions.put(direction, text, action, hits, scope)
        return Decision(direction, action, self._rewritten(text, action, hits), hits, tuple(failed), tuple(timings))

    def _rewritten(self, text: str, action: Action, hits: Sequence[Hit]) -> str:
        """What may be forwarded: `text` with its redact hits rewritten, when the action is redact."""
        if action is not Action.REDACT:
            return text
        return redact_spans(text, [h for h in hits if h.action is Action.REDACT], self.salt)
