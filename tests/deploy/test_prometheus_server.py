"""tests/support/prometheus.py itself: start, query, wait, and stop leaving nothing behind."""

from __future__ import annotations

import socket

import pytest

from tests.support.prometheus import PrometheusError, PrometheusServer


def test_missing_binary_says_how_to_install_it() -> None:
    with pytest.raises(PrometheusError, match="apt-get install -y --no-install-recommends prometheus"):
        PrometheusServer(binary="/nonexistent/prometheus").start()


def test_server_without_targets_answers_queries_and_stops_cleanly() -> None:
    with PrometheusServer() as prom:
        port = int(prom.url.rsplit(":", 1)[1])
        assert prom.query("vector(1)")[0]["value"][1] == "1"
        assert prom.query("absent_metric_name") == []
        (scalar,) = [(r["metric"], r["value"][1]) for r in prom.query("scalar(vector(2))")]
        assert scalar == ({}, "2")
        with pytest.raises(TimeoutError):
            prom.wait_for("absent_metric_name", timeout=0.5)
        assert prom.config()["global"] == {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
    assert prom.url == ""
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "prometheus still listening after stop()"
