"""deploy/docker-compose.yml: the compose-spec schema (check-jsonschema's vendored copy, no
network) and the wiring between the services and the files they mount."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

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
