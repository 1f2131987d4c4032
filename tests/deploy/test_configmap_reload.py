"""The Kubernetes hot-reload claim, end to end: the real proxy serving deploy/policy/policy.yaml
from a directory laid out the way kubelet mounts a ConfigMap, a real Prometheus scraping it.

kubelet writes each ConfigMap version into a new ``..<timestamp>`` directory, points ``..data``
at it with one atomic rename, and ``policy.yaml`` is a symlink to ``..data/policy.yaml``. The
proxy must pick up such a swap on its own, and a broken version must leave the old policy
serving and fire GuardrailPolicyReloadFailed's expression.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, load_yaml
from tests.support.prometheus import PrometheusServer, free_port

POLICY = DEPLOY / "policy" / "policy.yaml"


class ConfigMapDir:
    """A directory with kubelet's ConfigMap volume layout."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.generation = 0
        self.current: Path | None = None

    def publish(self, files: dict[str, str]) -> None:
        """Write a new version and swap ``..data`` to it atomically, as kubelet does."""
        self.generation += 1
        version_dir = self.root / f"..2026_11_27_00_00_{self.generation:02d}.000000001"
        version_dir.mkdir()
        for name, text in files.items():
            (version_dir / name).write_text(text, encoding="utf-8")
        tmp_link = self.root / "..data_tmp"
        tmp_link.symlink_to(version_dir.name)
        os.replace(tmp_link, self.root / "..data")
        for name in files:
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")
        if self.current is not None:
            for old in self.current.iterdir():
                old.unlink()
            self.current.rmdir()
        self.current = version_dir


def policy_version(version: str) -> str:
    text, count = re.subn(r"(?m)^version: .*$", f'version: "{version}"', POLICY.read_text(encoding="utf-8"))
    assert count == 1
    return text


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"proxy exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except urllib.error.HTTPError as e:
            e.close()
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s")


@pytest.fixture
def configmap(tmp_path: Path) -> ConfigMapDir:
    mount = ConfigMapDir(tmp_path / "etc-guardrail")
    mount.root.mkdir()
    mount.publish({"policy.yaml": policy_version("v1")})
    return mount


@pytest.fixture
def proxy(configmap: ConfigMapDir, tmp_path: Path) -> Iterator[str]:
    """`guardrail-proxy serve --demo` on the ConfigMap-style directory; yields host:port."""
    port = free_port()
    log = (tmp_path / "proxy.log").open("wb")
    argv = [
        str(Path(sys.executable).parent / "guardrail-proxy"),
        "serve",
        "--demo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(configmap.root / "policy.yaml"),
        "--reload-interval",
        "0.2",
    ]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", proc, timeout=60)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_configmap_swap_hot_reloads_and_a_broken_version_alerts(configmap: ConfigMapDir, proxy: str) -> None:
    alerts = {r["alert"]: r for g in load_yaml(DEPLOY / "prometheus" / "alerts.yml")["groups"] for r in g["rules"]}
    with PrometheusServer([proxy]) as prom:
        prom.wait_for('guardrail_policy_info{version="v1"} == 1', timeout=30)

        configmap.publish({"policy.yaml": policy_version("v2")})
        prom.wait_for('guardrail_policy_info{version="v2"} == 1', timeout=60)
        assert prom.query('guardrail_policy_info{version="v1"} == 1') == []  # gone, or 0 with --workers
        assert prom.query('guardrail_policy_reloads_total{result="success"} >= 1')

        broken = policy_version("v3").replace("detector: secrets", "detector: no_such_detector", 1)
        configmap.publish({"policy.yaml": broken})
        firing = prom.wait_for(alerts["GuardrailPolicyReloadFailed"]["expr"], timeout=60)
        assert [r["metric"]["instance"] for r in firing] == [proxy]
        assert prom.query('guardrail_policy_info{version="v2"} == 1'), "the previous policy must keep serving"
        with urllib.request.urlopen(f"http://{proxy}/readyz", timeout=5) as resp:
            assert resp.status == 200
