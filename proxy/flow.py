"""One guarded request's context: state, the policy it started on, identity, audit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from policies.engine import Policy
from policies.findings import Action, Direction
from proxy.errors import GuardUnavailable
from proxy.openai import Route
from proxy.state import ProxyState

T = TypeVar("T")

#: What a digit weighs against a character of prose when `Flow.run` decides where to guard a
#: text. Numbers are what phonenumbers reads, at up to ~40 µs a digit: a 4 KB prompt of made-up
#: international numbers (`+1234567 +2345678 …`, each read in all nine regions) costs ~120 ms,
#: against ~0.4 ms for 1 KB of prose with six identifiers in it. Weighed so, a text that may be
#: guarded inline holds at most ~340 digits, ~15 ms at that rate.
DIGIT_WEIGHT = 12
_DIGITS = b"0123456789"
_FULL_WIDTH = b"\xef\xbc"  # the UTF-8 lead of U+FF00-U+FF3F: full-width digits, `＋`, `（`, letters


def guard_weight(text: str | bytes) -> int:
    """What guarding `text` may cost, in characters of prose (see `DIGIT_WEIGHT`). Full-width
    forms count as digits, since the guard reads `１２３` as `123`. A few µs a KB."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    digits = len(data) - len(data.translate(None, _DIGITS)) + data.count(_FULL_WIDTH)
    return (len(text) if isinstance(text, str) else len(data)) + DIGIT_WEIGHT * digits


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

    async def run(self, weight: int, direction: Direction, work: Callable[..., T], *args: Any) -> T:
        """Run guard work: inline when the text is light (`guard_weight`; the common case, well
        under a millisecond), else on the guard's thread pool under the time budget, so neither
        a 10 MB prompt nor 4 KB of crafted numbers can stall every other request. Past the
        budget the request fails closed (503)."""
        settings = self.state.settings
        if weight <= settings.guard_inline_chars:
            return work(*args)
        future = asyncio.get_running_loop().run_in_executor(self.state.guard_executor, work, *args)
        try:
            return await asyncio.wait_for(future, settings.guard_timeout_seconds)
        except TimeoutError:
            self.state.metrics.fail_closed.labels(str(direction), "guard_timeout").inc()
            raise GuardUnavailable(
                f"The guard could not finish within {settings.guard_timeout_seconds:g} s, so the text was not forwarded"
            ) from None

    def audit(self, direction: Direction, action: Action, findings: list[dict[str, Any]]) -> bool:
        """Write the audit record; False when it failed and the configuration says fail closed."""
        if not self.state.audit.enabled:
            return True
        written = self.state.audit.record(
            request_id=self.request_id, route=str(self.route), model=self.state.model_name(self.model),
            client=self.client, tenant=self.tenant,
            direction=str(direction), action=str(action), findings=findings,
            policy=f"{self.policy.name}@{self.policy.version}",
        )
        if written or self.state.audit.config.on_error == "allow":
            return True
        self.state.metrics.fail_closed.labels(str(direction), "audit_unavailable").inc()
        return False
