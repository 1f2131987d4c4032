"""deploy/Dockerfile: hadolint, and what the image promises, checked without a Docker engine."""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import DEPLOY, ROOT, run, tool

DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(parts[0].upper(), parts[1].strip()) for parts in (line.split(None, 1) for line in logical)]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def the(op: str) -> str:
    (args,) = [a for o, a in final_stage() if o == op]
    return args


def test_hadolint_reports_nothing() -> None:
    result = run(tool("hadolint"), "--config", DEPLOY / ".hadolint.yaml", "--no-color", DOCKERFILE)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_based_on_python_311_slim() -> None:
    args = dict(a.split("=", 1) for o, a in instructions() if o == "ARG" and "=" in a)
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert [a.split()[0] for o, a in instructions() if o == "FROM"] == ["${PYTHON_IMAGE}"] * 2


def test_installs_the_package_from_the_build_context() -> None:
    runs = " ".join(a for o, a in instructions() if o == "RUN")
    assert "pip install --no-cache-dir ." in runs


def test_runs_as_non_root() -> None:
    user = the("USER").split(":")[0]
    assert user not in {"root", "0"}


def test_exposes_8080_and_serves_the_mounted_policy() -> None:
    assert the("EXPOSE") == "8080"
    cmd = json.loads(the("CMD"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert cmd[0] in scripts
    assert cmd[1] == "serve"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--config") + 1] == "/etc/guardrail/policy.yaml"
    copies = [a.split() for o, a in final_stage() if o == "COPY"]
    assert ["deploy/policy/policy.yaml", "/etc/guardrail/policy.yaml"] in copies


def test_policies_are_baked_in_at_app_policies() -> None:
    runs = " ".join(a for o, a in instructions() if o == "RUN")
    assert "'/app/policies'" in runs
    assert ["--from=build", "/app", "/app"] in [a.split() for o, a in final_stage() if o == "COPY"]


def test_copy_sources_exist_and_are_not_dockerignored() -> None:
    allowed = [
        line[1:].rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line.startswith("!")
    ]
    for op, args in instructions():
        if op != "COPY" or args.startswith("--from"):
            continue
        *sources, _dest = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
            assert source.rstrip("/") in allowed, f"COPY {source}: excluded by {DOCKERIGNORE.name}"


@pytest.fixture
def health_server() -> Iterator[tuple[int, list[int]]]:
    """A local /healthz whose status the test sets; yields (port, [status])."""
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0] if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], status
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_healthcheck_runs_python_against_healthz(health_server: tuple[int, list[int]]) -> None:
    """The HEALTHCHECK command itself, run here against a stand-in on another port:
    exit 0 on 200, non-zero on 503 (and slim has no curl, so it must be python)."""
    options, _, command = the("HEALTHCHECK").partition("CMD ")
    assert "--timeout=" in options and "--interval=" in options
    argv = json.loads(command)
    assert argv[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8080/healthz" in argv[2]
    port, status = health_server
    code = argv[2].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    ok = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=False)
    assert ok.returncode == 0, ok.stderr
    status[0] = 503
    failing = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=False)
    assert failing.returncode != 0


def test_documented_mount_point() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^#.*/etc/guardrail/policy\.yaml", text, flags=re.MULTILINE)
    assert "/etc/guardrail" in (DEPLOY / "README.md").read_text(encoding="utf-8")


def test_package_ships_the_default_pack_the_image_links() -> None:
    """The build stage links /app/policies to the installed package's packs and asserts
    default.yaml is there; pyproject's package-data must carry it."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]
    assert "packs/*.yaml" in data["policies"]
    assert (ROOT / "policies" / "packs" / "default.yaml").is_file()


def test_audit_directory_exists_and_belongs_to_the_runtime_user() -> None:
    """--audit-path /var/log/guardrail/audit.jsonl: the directory is in the image, owned by the
    non-root USER, so a new named volume mounted there copies a writable directory."""
    user = the("USER")
    uid, _, gid = user.partition(":")
    runs = " ".join(a for o, a in final_stage() if o == "RUN")
    made = re.search(r"install --directory --owner=(\d+) --group=(\d+) --mode=(0[0-7]{3}) /var/log/guardrail\b", runs)
    assert made, "the final stage must create /var/log/guardrail"
    assert (made.group(1), made.group(2)) == (uid, gid or uid)
    mode = int(made.group(3), 8)
    assert mode & 0o700 == 0o700 and mode & 0o007 == 0, "owner-writable, not world-readable"
    # Created before USER switches away from root (install needs root to chown).
    steps = final_stage()
    made_at = next(i for i, (o, a) in enumerate(steps) if o == "RUN" and "/var/log/guardrail" in a)
    assert made_at < steps.index(("USER", user))


def test_documented_mount_points_for_keys_and_audit() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^#.*/etc/guardrail-keys/", text, flags=re.MULTILINE)
    assert re.search(r"^#.*/var/log/guardrail/", text, flags=re.MULTILINE)
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "/etc/guardrail-keys/keys.yaml" in readme and "/var/log/guardrail" in readme
