"""Glue between the HTTP layer and the engine: guard text slots, count what was decided."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from policies.actions import Hit
from policies.engine import Decision, Policy
from policies.findings import SEVERITY, Action, Direction
from proxy.audit import describe, finding_record
from proxy.metrics import Metrics
from proxy.openai import TextSlot


def observe(
    metrics: Metrics,
    direction: Direction,
    hits: Iterable[Hit],
    failed: Sequence[str] = (),
    timings: Sequence[tuple[str, float]] = (),
) -> None:
    """Count findings by rule and category, detector time, and fail-closed events."""
    d = str(direction)
    for hit in hits:
        metrics.child(metrics.decisions, d, hit.rule, hit.finding.category, hit.action.value).inc()
    for detector, seconds in timings:
        metrics.child(metrics.guard_duration, d, detector).observe(seconds)
    for _detector in failed:
        metrics.child(metrics.fail_closed, d, "detector_error").inc()


@dataclass
class SlotsVerdict:
    """The guard's verdict on every text of one request or response."""

    action: Action = Action.ALLOW
    findings: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[tuple[TextSlot, Decision]] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return self.action is Action.BLOCK

    @property
    def changed(self) -> bool:
        return any(decision.changed for _, decision in self.decisions)


def guard_slots(
    policy: Policy,
    slots: Sequence[TextSlot],
    direction: Direction,
    metrics: Metrics,
    audit_salt: bytes | None = None,
    scope: str = "",
) -> SlotsVerdict:
    """Evaluate each slot; redact in place unless anything blocks (then nothing is rewritten).

    With an `audit_salt`, each finding is also described for the audit trail, with a salted
    hash of the matched value in place of the value. `scope` (the client's id) keeps one
    client's decision cache entries from answering another's texts.
    """
    verdict = SlotsVerdict()
    for slot in slots:
        original = slot.text
        decision = policy.evaluate(original, direction, scope)
        observe(metrics, direction, decision.hits, decision.failed, decision.timings)
        metrics.child(metrics.guarded_texts, direction.value, decision.action.value).inc()
        if decision.cached:
            metrics.child(metrics.cached_decisions, direction.value).inc()
        verdict.decisions.append((slot, decision))
        verdict.findings.extend(describe(hit, slot.param) for hit in decision.hits)
        if audit_salt is not None:
            verdict.audit.extend(
                finding_record(hit, original[hit.finding.start : hit.finding.end], audit_salt, slot.param)
                for hit in decision.hits
            )
        if SEVERITY[decision.action] > SEVERITY[verdict.action]:
            verdict.action = decision.action
    if not verdict.blocked:
        for slot, decision in verdict.decisions:
            if decision.changed:
                slot.replace(decision.text)
    return verdict
