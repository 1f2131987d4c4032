"""Every Prometheus collector of the proxy, in one place.

Label values always come from bounded sets: routes, model names the operator serves, rule ids,
categories, actions, detector names. Never request ids, never user text.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
GUARD_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)


class Metrics:
    """The collectors, registered on one registry (a fresh one per app, so tests can run many)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "guardrail_requests",
            "Requests handled, by route, model, HTTP status and tenant ('-' without client keys).",
            ["route", "model", "status", "tenant"], registry=r,
        )
        self.request_duration = Histogram(
            "guardrail_request_duration_seconds", "Time from request received to last byte sent.",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.upstream_duration = Histogram(
            "guardrail_upstream_duration_seconds",
            "Time from upstream request sent to upstream response headers received.",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.upstream_errors = Counter(
            "guardrail_upstream_errors", "Upstream failures by kind (refused, timeout, status, protocol).",
            ["kind"], registry=r,
        )
        self.time_to_first_token = Histogram(
            "guardrail_stream_first_token_seconds",
            "Time from request received to the first content byte sent to the client (streams).",
            ["route"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.active_streams = Gauge(
            "guardrail_active_streams", "Streamed responses in flight.", registry=r,
            multiprocess_mode="livesum",
        )
        self.decisions = Counter(
            "guardrail_decisions", "Guard decisions on findings, by direction, rule, category and action.",
            ["direction", "rule", "category", "action"], registry=r,
        )
        self.guarded_texts = Counter(
            "guardrail_guarded_texts", "Texts guarded, by direction and resulting action.",
            ["direction", "action"], registry=r,
        )
        self.cached_decisions = Counter(
            "guardrail_cached_decisions", "Texts decided from the policy's decision cache (seen before, not scanned).",
            ["direction"], registry=r,
        )
        self.guard_duration = Histogram(
            "guardrail_guard_duration_seconds", "CPU time the guard spent per text, by direction and detector.",
            ["direction", "detector"], buckets=GUARD_BUCKETS, registry=r,
        )
        self.fail_closed = Counter(
            "guardrail_fail_closed", "Content refused because it could not be scanned (not a policy block).",
            ["direction", "reason"], registry=r,
        )
        self.holdback_overflows = Counter(
            "guardrail_holdback_overflows", "Streams stopped because the hold-back buffer overflowed.",
            ["direction"], registry=r,
        )
        self.policy_reloads = Counter(
            "guardrail_policy_reloads", "Policy reload attempts by result (success, failure).",
            ["result"], registry=r,
        )
        self.audit_write_failures = Counter(
            "guardrail_audit_write_failures", "Audit records that could not be written.", registry=r,
        )
        self.policy_info = Gauge(
            "guardrail_policy_info", "The loaded policy: name and version as labels, value 1.",
            ["name", "version"], registry=r, multiprocess_mode="liveall",
        )
        self.policy_terms = Gauge(
            "guardrail_policy_terms", "Lexicon terms in the loaded policy.", registry=r,
            multiprocess_mode="liveall",
        )
        self._zero_known_labels()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Counter | Histogram | Gauge, *labels: str) -> Any:
        """`metric.labels(*labels)`, cached: the guard records several series per request, and
        prometheus-client validates and locks on every `labels()` call."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def _zero_known_labels(self) -> None:
        """Create the label sets that events will use, at 0, so `increase()` sees the first one."""
        for result in ("success", "failure"):
            self.policy_reloads.labels(result)
        for kind in ("refused", "timeout", "status", "protocol", "too_large"):
            self.upstream_errors.labels(kind)
        for direction in ("prompt", "completion"):
            self.holdback_overflows.labels(direction)
            self.cached_decisions.labels(direction)
            for reason in ("detector_error", "stream_broken", "audit_unavailable", "guard_timeout", "unreadable_body"):
                self.fail_closed.labels(direction, reason)
