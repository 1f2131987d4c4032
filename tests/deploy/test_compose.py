"""deploy/docker-compose.yml: the compose-spec schema (check-jsonschema's vendored copy, no
network) and the wiring between the services and the files they mount."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from proxy.auth import ClientKeys
from proxy.cli import build_parser
from tests.deploy.conftest import DEPLOY, ROOT, load_yaml, run, tool

COMPOSE = DEPLOY / "docker-compose.yml"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE)
    return data


def check_compose_schema(path: Path) -> tuple[int, str]:
    result = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", path)
    return result.returncode, result.stdout + result.stderr


def test_compose_file_validates_against_compose_spec() -> None:
    code, output = check_compose_schema(COMPOSE)
    assert code == 0, output


def test_compose_schema_rejects_an_unknown_key(tmp_path: Path) -> None:
    """The schema is strict, so the check above means something."""
    broken = compose()
    broken["services"]["proxy"]["heathcheck"] = {"test": ["CMD", "true"]}
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    code, output = check_compose_schema(path)
    assert code != 0 and "heathcheck" in output, output


def test_services() -> None:
    assert set(compose()["services"]) == {"proxy", "model", "prometheus", "grafana"}


def test_proxy_builds_from_repo_root_with_deploy_dockerfile() -> None:
    build = compose()["services"]["proxy"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"


def test_proxy_talks_to_the_model_service_and_mounts_the_policy_directory() -> None:
    services = compose()["services"]
    proxy = services["proxy"]
    assert proxy["environment"]["GUARDRAIL_UPSTREAM"].startswith("http://model:8080")
    assert "./policy:/etc/guardrail:ro" in proxy["volumes"]
    assert (DEPLOY / "policy" / "policy.yaml").is_file()
    assert proxy["depends_on"]["model"]["condition"] == "service_healthy"
    assert "ports" not in services["model"], "the model must only be reachable through the proxy"


def test_model_is_llama_cpp_server_with_a_mounted_gguf() -> None:
    model = compose()["services"]["model"]
    assert model["image"] == "ghcr.io/ggml-org/llama.cpp:server"
    assert model["environment"]["LLAMA_ARG_MODEL"].startswith("/models/")
    assert any(v.endswith(":/models:ro") for v in model["volumes"])


def test_bind_mount_sources_exist() -> None:
    """Every ./relative source the stack mounts is in the repo (the model dir is the user's)."""
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name}: {source} is missing"


def test_prometheus_scrapes_the_proxy_service_and_loads_alerts() -> None:
    services = compose()["services"]
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["proxy:8080"]
    assert "8080:8080" in services["proxy"]["ports"]
    assert config["rule_files"] == ["alerts.yml"]


# -- client keys, audit trail, shutdown --------------------------------------------------------

# Seconds kept free between the proxy's own shutdown budget and SIGKILL (as in test_k8s.py).
SHUTDOWN_MARGIN_SECONDS = 5


def proxy_command() -> list[str]:
    command: list[str] = compose()["services"]["proxy"]["command"]
    return [str(part) for part in command]


def proxy_flag(name: str) -> str:
    command = proxy_command()
    assert command.count(name) == 1, f"{name} given {command.count(name)} times"
    return command[command.index(name) + 1]


def seconds(duration: str) -> float:
    """A Compose duration such as `60s`, `1m30s`."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def test_proxy_command_is_the_image_cmd_plus_deploy_flags() -> None:
    cmd = next(
        line for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines() if line.startswith("CMD ")
    )
    image_cmd = json.loads(cmd.removeprefix("CMD "))
    command = proxy_command()
    assert command[: len(image_cmd)] == image_cmd
    args = build_parser().parse_args(command[1:])  # the proxy accepts every flag
    assert args.client_keys == Path("/etc/guardrail-keys/keys.yaml")
    assert args.audit_path == Path("/var/log/guardrail/audit.jsonl")
    assert args.audit_retention_days == 180
    assert "--workers" not in command, "Compose runs the default: one worker per core"


def test_client_keys_are_bind_mounted_from_deploy_keys() -> None:
    proxy = compose()["services"]["proxy"]
    keys_file = Path(proxy_flag("--client-keys"))
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in proxy["volumes"] if v.count(":") == 2)
    assert mounts["./keys"] == str(keys_file.parent) and "./keys:/etc/guardrail-keys:ro" in proxy["volumes"]
    example = DEPLOY / "keys" / f"{keys_file.name}.example"
    ClientKeys.load(example)  # the template the operator copies is a valid keys file
    ignored = (DEPLOY / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert f"/keys/{keys_file.name}" in ignored, "the real keys file stays out of git"
    assert "/.env" in ignored, "deploy/.env holds the audit salt"


def test_audit_trail_is_on_a_named_volume_with_a_required_salt() -> None:
    config = compose()
    proxy = config["services"]["proxy"]
    audit_dir = str(Path(proxy_flag("--audit-path")).parent)
    (volume,) = [v for v in proxy["volumes"] if v.split(":")[1] == audit_dir]
    name = volume.split(":")[0]
    assert not name.startswith((".", "/")), "a named volume: it outlives the container and takes the image's ownership"
    assert name in config["volumes"]
    assert not volume.endswith(":ro")
    assert proxy["read_only"] is True, "the root filesystem stays read-only"
    salt = proxy["environment"]["GUARDRAIL_AUDIT_SALT"]
    assert re.fullmatch(r"\$\{GUARDRAIL_AUDIT_SALT:\?[^}]+\}", salt), "Compose must refuse to start without a salt"


def test_upstream_key_is_the_only_upstream_credential() -> None:
    environment = compose()["services"]["proxy"]["environment"]
    assert environment["GUARDRAIL_UPSTREAM_API_KEY"] == "${GUARDRAIL_UPSTREAM_API_KEY:-}"


def test_stop_grace_period_covers_drain_and_shutdown_timeout() -> None:
    proxy = compose()["services"]["proxy"]
    grace = seconds(proxy["stop_grace_period"])
    drain = float(proxy_flag("--drain-seconds"))
    shutdown = float(proxy_flag("--shutdown-timeout"))
    assert grace >= drain + shutdown + SHUTDOWN_MARGIN_SECONDS, (grace, drain, shutdown)
    assert shutdown >= 30, "streams need time to finish"
    said = re.search(
        r"stop_grace_period (\d+)s >= drain (\d+) \+ shutdown timeout (\d+) \+ (\d+) s margin",
        re.sub(r"\n\s*#\s*", " ", COMPOSE.read_text(encoding="utf-8")),
    )
    assert said, "docker-compose.yml must spell out the grace period arithmetic"
    assert [int(n) for n in said.groups()[:3]] == [grace, drain, shutdown]
    assert int(said.group(1)) >= sum(int(n) for n in said.groups()[1:])
