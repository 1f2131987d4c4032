"""deploy/grafana: the dashboard's structure, and every query on a real Prometheus."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.conftest import (
    DASHBOARD,
    DEPLOY,
    LiveStack,
    exposed_samples,
    known_labels,
    load_yaml,
    metric_families,
    referenced_labels,
    referenced_metrics,
)
from tests.support.prometheus import PrometheusQueryError

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# Grafana's built-in interval variables; any duration makes the query valid PromQL.
BUILTIN_INTERVALS = ("$__rate_interval", "$__interval", "$__range")


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def all_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def query_panels() -> list[dict[str, Any]]:
    return [p for p in all_panels(dashboard()["panels"]) if p["type"] != "row"]


def expressions() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in query_panels() for t in p.get("targets", [])]


def variables() -> list[dict[str, Any]]:
    variables: list[dict[str, Any]] = dashboard()["templating"]["list"]
    return variables


def as_promql(expr: str) -> str:
    """The expression as Prometheus would receive it: intervals 1m, variables match all."""
    for name in BUILTIN_INTERVALS:
        expr = expr.replace(name, "1m")
    for var in sorted(variables(), key=lambda v: -len(v["name"])):
        expr = re.sub(rf"\$\{{{var['name']}(?::\w+)?\}}|\${var['name']}\b", ".*", expr)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    return expr


def test_dashboard_identity_and_datasource_variable() -> None:
    dash = dashboard()
    assert dash["uid"] == "guardrail-proxy"
    assert dash["title"]
    datasource_vars = [v for v in variables() if v["type"] == "datasource"]
    assert [(v["name"], v["query"]) for v in datasource_vars] == [("datasource", "prometheus")]


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    panels = list(all_panels(dashboard()["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for p in panels:
        grid = p["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, p["title"]


def test_every_panel_has_a_query_on_the_datasource_variable() -> None:
    for panel in query_panels():
        targets = panel.get("targets", [])
        assert targets and all(t.get("expr", "").strip() for t in targets), panel["title"]
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert all(t["datasource"] == DATASOURCE for t in targets), panel["title"]
    for var in variables():
        if var["type"] == "query":
            assert var["datasource"] == DATASOURCE, var["name"]


@pytest.mark.parametrize(
    "topic",
    [
        "request rate by status",
        "requests by tenant",
        "request latency p50 / p99",
        "guard latency p99 by detector",
        "decisions by action",
        "decisions by category",
        "top rules",
        "fail-closed and hold-back overflows",
        "upstream errors by kind",
        "time to first token",
        "active streams",
        "policy reloads",
        "loaded policy version",
    ],
)
def test_dashboard_has_panel(topic: str) -> None:
    titles = [p["title"].lower() for p in query_panels()]
    assert any(t.startswith(topic) for t in titles), f"no panel for {topic!r} in {titles}"


def test_requests_by_tenant_groups_by_the_tenant_label() -> None:
    (panel,) = [p for p in query_panels() if p["title"] == "Requests by tenant"]
    (target,) = panel["targets"]
    assert target["expr"].startswith("sum by (tenant) (rate(guardrail_requests_total{")
    assert target["legendFormat"] == "{{tenant}}"
    assert "tenant" in metric_families()["guardrail_requests"].labels


def test_top_rules_uses_topk() -> None:
    (panel,) = [p for p in query_panels() if p["title"] == "Top rules"]
    assert panel["targets"][0]["expr"].startswith("topk(")


def test_dashboard_shows_every_proxy_metric() -> None:
    shown = {name for _, expr in expressions() for name in referenced_metrics(expr)}
    samples = exposed_samples()
    families_shown = {samples[name].name for name in shown if name in samples}
    assert families_shown == set(metric_families()), set(metric_families()) - families_shown


@pytest.mark.parametrize(("title", "expr"), expressions())
def test_query_uses_only_exported_metrics_and_labels(title: str, expr: str) -> None:
    assert referenced_metrics(expr) <= set(exposed_samples()), f"{title}: {expr}"
    assert referenced_labels(expr) <= known_labels(), f"{title}: {expr}"


def test_variable_queries_use_exported_metrics() -> None:
    for var in variables():
        if var["type"] == "query":
            assert referenced_metrics(var["definition"]) <= set(exposed_samples()), var["definition"]


@pytest.mark.parametrize(("title", "expr"), expressions())
def test_query_parses_and_returns_data_on_real_prometheus(live: LiveStack, title: str, expr: str) -> None:
    """Prometheus answers `success` (a parse error is HTTP 400 `bad_data`), and against a
    scrape of every proxy metric each panel shows something."""
    try:
        result = live.prometheus.query(as_promql(expr))
    except PrometheusQueryError as e:
        pytest.fail(f"{title}: Prometheus rejects {as_promql(expr)!r}: {e}")
    assert result, f"{title}: {as_promql(expr)!r} selects nothing from the proxy's metrics"


def test_invalid_promql_is_reported(live: LiveStack) -> None:
    """The query check above would catch a broken expression."""
    with pytest.raises(PrometheusQueryError) as caught:
        live.prometheus.query("sum by (status (rate(guardrail_requests_total[1m]))")
    assert caught.value.error_type == "bad_data"


def test_grafana_provisioning_matches_compose() -> None:
    compose = load_yaml(DEPLOY / "docker-compose.yml")
    grafana_mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "guardrail.yml")["providers"][0]
    assert grafana_mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert grafana_mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    (source,) = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
