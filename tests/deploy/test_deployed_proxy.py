"""The real proxy, started with deploy/k8s/deployment.yaml's arguments (paths moved into a temp
directory, the demo model as upstream): client keys, the audit trail on its volume path,
two workers, and the SIGTERM drain, all working together as deployed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy.auth import key_digest
from tests.deploy.conftest import DEPLOY, load_yaml_all
from tests.support.prometheus import free_port

KEY = "sk-gr-deploy-test-key-0123456789"
POD_NAME = "guardrail-proxy-5d8f7c9b6-x2x7q"
# The drain the Deployment asks for (10 s) is shortened here; the arithmetic around it is
# tested in test_k8s.py, the drain itself in tests/e2e/test_serve.py.
TEST_DRAIN_SECONDS = "1"


def deployment_container() -> dict[str, Any]:
    (deployment,) = [d for d in load_yaml_all(DEPLOY / "k8s" / "deployment.yaml") if d["kind"] == "Deployment"]
    (proxy,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(proxy)


@dataclass
class Deployed:
    url: str
    proc: subprocess.Popen[bytes]
    audit_dir: Path
    log: Path


def request(url: str, body: dict[str, Any] | None = None, key: str | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read()


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the proxy exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if request(f"{url}/readyz")[0] == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"the proxy did not become ready:\n{log.read_text(errors='replace')}")


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    keys_dir, audit_root = tmp_path / "guardrail-keys", tmp_path / "guardrail-audit"
    keys_dir.mkdir()
    audit_root.mkdir()
    # The example keys file, plus one key this test knows.
    keys = yaml.safe_load((DEPLOY / "keys" / "keys.yaml.example").read_text(encoding="utf-8"))
    keys["keys"].append({"tenant": "team-a", "sha256": key_digest(KEY)})
    (keys_dir / "keys.yaml").write_text(yaml.safe_dump(keys), encoding="utf-8")

    moved = {
        "/etc/guardrail-keys/": f"{keys_dir}/",
        "/etc/guardrail/": f"{DEPLOY / 'policy'}/",
        "/var/log/guardrail/": f"{audit_root}/",
        "$(POD_NAME)": POD_NAME,  # what kubelet expands from the POD_NAME env var
    }
    port = free_port()
    args = []
    for arg in deployment_container()["args"]:
        for old, new in moved.items():
            arg = arg.replace(old, new)
        args.append(arg)
    for name, value in {"--host": "127.0.0.1", "--port": str(port), "--drain-seconds": TEST_DRAIN_SECONDS}.items():
        args[args.index(name) + 1] = value
    assert not any("/etc/" in a or "/var/log/" in a for a in args), args

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUARDRAIL_", "PROMETHEUS_MULTIPROC"))}
    env["GUARDRAIL_AUDIT_SALT"] = "deploy-test-salt"
    log = tmp_path / "proxy.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "guardrail-proxy"), *args, "--demo"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log)
        yield Deployed(url, proc, audit_root / POD_NAME, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


CHAT = {"model": "demo-echo", "messages": [{"role": "user", "content": "call me at 13812345678"}]}


def test_deployment_arguments_run_keys_audit_workers_and_drain(deployed: Deployed) -> None:
    chat = f"{deployed.url}/v1/chat/completions"
    # Client keys are on: no key, or a key that is not listed, gets 401.
    assert request(chat, CHAT)[0] == 401
    status, body = request(chat, CHAT, key="sk-not-a-listed-key")
    assert status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key"
    # A listed key names its tenant and gets the guarded answer.
    status, body = request(chat, CHAT, key=KEY)
    assert status == 200, body
    assert "<CN_MOBILE>" in json.loads(body)["choices"][0]["message"]["content"]

    # The audit trail: in the pod's own directory on the audit volume, with the tenant.
    audit_file = deployed.audit_dir / "audit.jsonl"
    records = [json.loads(line) for line in audit_file.read_text(encoding="utf-8").splitlines()]
    assert records and {r["tenant"] for r in records} == {"team-a"}
    assert "13812345678" not in audit_file.read_text(encoding="utf-8")

    # Metrics by tenant, summed over both workers ('-': the refused requests).
    status, metrics = request(f"{deployed.url}/metrics")
    text = metrics.decode()
    assert 'tenant="team-a"' in text and 'status="401"' in text and 'tenant="-"' in text
    assert "guardrail_audit_write_failures_total 0.0" in text
    deadline = time.monotonic() + 60  # the second worker may still be loading its policy
    while True:
        pids = {
            line.split('pid="')[1].split('"')[0]
            for line in text.splitlines()
            if line.startswith("guardrail_policy_info{") and 'pid="' in line
        }
        if len(pids) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
        text = request(f"{deployed.url}/metrics")[1].decode()
    assert len(pids) == 2, "--workers 2: two workers"

    # SIGTERM: /readyz turns 503 while the listener still serves, then a clean exit.
    deployed.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert request(f"{deployed.url}/readyz")[0] == 503
    assert deployed.proc.wait(timeout=30) == 0, deployed.log.read_text(errors="replace")
