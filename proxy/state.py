"""What the running application holds: settings, the current policy, metrics, upstream."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from policies.engine import Policy
from policies.findings import Direction
from proxy.audit import AuditConfig, AuditLog
from proxy.auth import ClientKeys
from proxy.metrics import Metrics
from proxy.upstream import Upstream, UpstreamConfig

MAX_MODEL_LABELS = 50
MAX_MODEL_NAMES_KNOWN = 1024
#: What a model id looks like: letters, digits and `._:/@+-`, no spaces, at most 128 characters.
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")


@dataclass(frozen=True)
class Settings:
    """Everything `serve` is told: where the model is, which policy, which limits."""

    upstream: UpstreamConfig
    policy_path: Path | None = None
    demo: bool = False
    max_body_bytes: int = 16 * 1024 * 1024
    max_response_bytes: int = 64 * 1024 * 1024
    reload_poll_seconds: float = 1.0
    audit: AuditConfig = field(default_factory=AuditConfig)
    client_keys: ClientKeys | None = None
    # Texts heavier than this (`flow.guard_weight`: characters, digits weighing 12) are guarded on
    # the thread pool under `guard_timeout_seconds`: 4 KB dense with identifiers cost about 1.6 ms
    # inline. The worst texts we found that stay inline cost 10-15 ms (a run of "1/1/1..." after
    # 电话, 1,170 e-mail addresses), which is how long one can hold the event loop; below this, a
    # thread hop costs more than it saves.
    guard_inline_chars: int = 4 * 1024
    guard_timeout_seconds: float = 10.0


@dataclass
class ProxyState:
    settings: Settings
    policy: Policy
    metrics: Metrics
    upstream: Upstream
    audit: AuditLog
    ready: bool = True
    tenant_policies: dict[str, Policy] = field(default_factory=dict)
    guard_executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="guard")
    )
    _models: set[str] = field(default_factory=set)
    _model_names: dict[str, bool] = field(default_factory=dict)  # name -> fit to show

    def policy_for(self, tenant: str | None) -> Policy:
        """The tenant's own policy if it has one, else the default."""
        return self.tenant_policies.get(tenant, self.policy) if tenant else self.policy

    def set_policy(self, policy: Policy, tenant: str | None = None) -> None:
        """Swap a policy atomically: requests in flight keep the one they started with."""
        if tenant is not None:
            self.tenant_policies[tenant] = policy
            return
        previous = getattr(self, "policy", None)
        if previous is not None and (previous.name, previous.version) != (policy.name, policy.version):
            if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # series cannot be removed there: zero it
                self.metrics.policy_info.labels(previous.name, previous.version).set(0)
            else:
                self.metrics.policy_info.remove(previous.name, previous.version)
        self.metrics.policy_info.labels(policy.name, policy.version).set(1)
        self.metrics.policy_terms.set(policy.term_count)
        self.policy = policy
        self._model_names.clear()  # a term or pattern of the new policy may be in a name already seen

    def model_label(self, model: object) -> str:
        """A bounded metric label: model names the upstream itself reported, else 'other'."""
        if isinstance(model, str) and model in self._models:
            return model
        return "other"

    def learn_model(self, model: object) -> None:
        """Remember a model name the upstream reported, as a label, if it is fit to show."""
        if len(self._models) < MAX_MODEL_LABELS and self.model_name(model) != "other":
            assert isinstance(model, str)
            self._models.add(model)

    def model_name(self, model: object) -> str:
        """`model` as logs, audit records and metric labels may show it, else 'other'.

        The name comes from the client, and many model servers echo it back, so it may hold
        anything: only a name shaped like a model id (`Qwen2.5-7B-Instruct`, `gpt-4o-mini`) in
        which the default policy finds nothing (a phone number is shaped like one) is shown."""
        if not isinstance(model, str):
            return "other"
        fit = self._model_names.get(model)
        if fit is None:
            fit = bool(MODEL_ID.fullmatch(model)) and not self.policy.evaluate(model, Direction.PROMPT).hits
            if len(self._model_names) >= MAX_MODEL_NAMES_KNOWN:
                self._model_names.clear()
            self._model_names[model] = fit
        return model if fit else "other"


STATE = web.AppKey("state", ProxyState)
REQUEST_ID = web.RequestKey("request_id", str)
MODEL = web.RequestKey("model", str)
TENANT = web.RequestKey("tenant", str)
