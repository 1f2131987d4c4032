"""One guarded request's context: state, the policy it started on, identity, audit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies.engine import Policy
from policies.findings import Action, Direction
from proxy.openai import Route
from proxy.state import ProxyState


@dataclass
class Flow:
    """One guarded request: who asked, on which policy, and where its audit records go."""

    state: ProxyState
    policy: Policy
    route: Route
    request_id: str
    client: str
    tenant: str | None = None
    model: str | None = None

    @property
    def audit_salt(self) -> bytes | None:
        return self.state.audit.config.salt if self.state.audit.enabled else None

    def audit(self, direction: Direction, action: Action, findings: list[dict[str, Any]]) -> bool:
        """Write the audit record; False when it failed and the configuration says fail closed."""
        if not self.state.audit.enabled:
            return True
        written = self.state.audit.record(
            request_id=self.request_id, route=str(self.route), model=self.model, client=self.client,
            tenant=self.tenant,
            direction=str(direction), action=str(action), findings=findings,
            policy=f"{self.policy.name}@{self.policy.version}",
        )
        if written or self.state.audit.config.on_error == "allow":
            return True
        self.state.metrics.fail_closed.labels(str(direction), "audit_unavailable").inc()
        return False
