"""deploy/prometheus: promtool checks, the alert unit tests, and the rules on a real Prometheus."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.conftest import (
    ALERTS,
    DEPLOY,
    LiveStack,
    exposed_samples,
    known_labels,
    load_yaml,
    load_yaml_all,
    referenced_labels,
    referenced_metrics,
    run,
    tool,
)

PROMETHEUS_DIR = DEPLOY / "prometheus"
RUNBOOK = DEPLOY / "RUNBOOK.md"
EXPECTED_ALERTS = {
    "GuardrailHighBlockRate",
    "GuardrailUpstreamErrors",
    "GuardrailGuardLatencyHigh",
    "GuardrailFailClosed",
    "GuardrailPolicyReloadFailed",
    "GuardrailDown",
    "GuardrailAuditWriteFailures",
}
# `page` is what the audit alert asks for: a request refused (or served unrecorded) is worse
# than a warning.
SEVERITIES = {"warning", "critical"}


def alert_rules() -> dict[str, dict[str, Any]]:
    rules = {}
    for group in load_yaml(ALERTS)["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rules[rule["alert"]] = rule
    return rules


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_promtool_check_rules() -> None:
    result = run(tool("promtool"), "check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in result.stdout


def test_promtool_check_config_loads_the_rules() -> None:
    result = run(tool("promtool"), "check", "config", PROMETHEUS_DIR / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = run(tool("promtool"), "test", "rules", "alerts_test.yml", cwd=PROMETHEUS_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_expected_alert_is_defined() -> None:
    assert set(alert_rules()) == EXPECTED_ALERTS


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_alert_has_for_severity_annotations_and_runbook(name: str) -> None:
    rule = alert_rules()[name]
    assert rule.get("for"), f"{name} has no `for:`"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    for key in ("summary", "description", "runbook"):
        assert annotations.get(key), f"{name} lacks annotation {key}"
    path, _, anchor = annotations["runbook"].partition("#")
    assert path == "deploy/RUNBOOK.md"
    headings = re.findall(r"^## (.+)$", RUNBOOK.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert anchor in {github_anchor(h) for h in headings}, f"RUNBOOK.md has no section #{anchor}"
    assert name in headings


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_alert_unit_tests_cover_firing_and_not_firing(name: str) -> None:
    firing, silent = False, False
    for case in load_yaml(PROMETHEUS_DIR / "alerts_test.yml")["tests"]:
        for check in case.get("alert_rule_test", []):
            if check["alertname"] == name:
                if check.get("exp_alerts"):
                    firing = True
                else:
                    silent = True
    assert firing, f"no promtool test expects {name} to fire"
    assert silent, f"no promtool test expects {name} to stay silent"


@pytest.mark.parametrize("name", sorted(EXPECTED_ALERTS))
def test_alert_uses_only_metrics_and_labels_the_proxy_exports(name: str) -> None:
    expr = alert_rules()[name]["expr"]
    assert referenced_metrics(expr) <= set(exposed_samples()), expr
    assert referenced_labels(expr) <= known_labels(), expr


def test_audit_write_failures_page_on_any_increase_over_5m() -> None:
    rule = alert_rules()["GuardrailAuditWriteFailures"]
    assert rule["labels"]["severity"] == "critical"
    assert "increase(guardrail_audit_write_failures_total[5m])) > 0" in rule["expr"]


def test_alert_job_matches_compose_scrape_job_and_k8s_service() -> None:
    """up{job=...} only matches if Compose's job_name and the k8s Service name (the
    ServiceMonitor's job label) are the same string."""
    job = re.search(r'job="([^"]+)"', alert_rules()["GuardrailDown"]["expr"])
    assert job is not None
    scrape_jobs = {c["job_name"] for c in load_yaml(PROMETHEUS_DIR / "prometheus.yml")["scrape_configs"]}
    assert job.group(1) in scrape_jobs
    services = [d for d in load_yaml_all(DEPLOY / "k8s" / "service.yaml") if d["kind"] == "Service"]
    assert [s["metadata"]["name"] for s in services] == [job.group(1)]


def test_rules_evaluate_healthy_on_real_prometheus(live: LiveStack) -> None:
    """Against scraped proxy metrics, every rule evaluates without a PromQL runtime error
    (e.g. many-to-many matching), which promtool's static check cannot see."""

    def all_evaluated(_: object) -> bool:
        rules = [r for g in live.prometheus.api("rules")["groups"] for r in g["rules"]]
        return len(rules) == len(EXPECTED_ALERTS) and all(r["health"] != "unknown" for r in rules)

    live.prometheus.wait_for("vector(1)", all_evaluated, timeout=30)
    rules = [r for g in live.prometheus.api("rules")["groups"] for r in g["rules"]]
    assert {r["name"]: r["health"] for r in rules} == dict.fromkeys(EXPECTED_ALERTS, "ok"), rules


def test_event_alerts_select_real_scraped_series(live: LiveStack) -> None:
    """The exporter's fail-closed, reload-failure and audit-failure counters appear already at 3
    (as a proxy's do on their first event, or before its first scrape), so the three event
    alerts' expressions must select them now; and the dead target makes GuardrailDown's
    expression select it."""
    rules = alert_rules()
    fail_closed = live.prometheus.query(rules["GuardrailFailClosed"]["expr"])
    assert {r["metric"]["direction"] for r in fail_closed} == {"prompt", "completion"}
    reload_failed = live.prometheus.query(rules["GuardrailPolicyReloadFailed"]["expr"])
    assert [r["metric"]["instance"] for r in reload_failed] == [live.exporter]
    down = live.prometheus.query(rules["GuardrailDown"]["expr"])
    assert [r["metric"]["instance"] for r in down] == [live.dead_target]
    audit = live.prometheus.query(rules["GuardrailAuditWriteFailures"]["expr"])
    assert [r["metric"]["instance"] for r in audit] == [live.exporter]
