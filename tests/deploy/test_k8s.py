"""deploy/k8s: kubernetes-validate --strict (bundled schemas, offline) on each manifest and on
the kustomize output, the ServiceMonitor CRD against a vendored schema, and the wiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.config import DEFAULT_POLICY, read_spec, resolve_path
from tests.deploy.conftest import DEPLOY, SCHEMAS, load_yaml, load_yaml_all, run, tool

K8S = DEPLOY / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
SERVICEMONITOR_SCHEMA = SCHEMAS / "servicemonitor-monitoring.coreos.com-v1.json"
CRDS = {"ServiceMonitor"}  # kinds kubernetes-validate has no schema for
CORE_MANIFESTS = sorted(
    p.name for p in K8S.glob("*.yaml") if p.name not in {"kustomization.yaml", "servicemonitor.yaml"}
)


def manifests() -> dict[str, dict[str, Any]]:
    """Every object in the kustomization's resources, by kind."""
    objects = {}
    for name in load_yaml(KUSTOMIZATION)["resources"]:
        for doc in load_yaml_all(K8S / name):
            objects[doc["kind"]] = doc
    return objects


def pod_spec() -> dict[str, Any]:
    spec: dict[str, Any] = manifests()["Deployment"]["spec"]["template"]["spec"]
    return spec


def container() -> dict[str, Any]:
    (proxy,) = pod_spec()["containers"]
    return dict(proxy)


def kubernetes_validate(path: Path) -> tuple[int, list[str]]:
    result = run(tool("kubernetes-validate"), "--strict", path)
    return result.returncode, (result.stdout + result.stderr).splitlines()


@pytest.mark.parametrize("name", CORE_MANIFESTS)
def test_core_manifest_passes_strict_validation(name: str) -> None:
    code, lines = kubernetes_validate(K8S / name)
    assert code == 0, lines
    assert lines and all(line.startswith("INFO") and " passed " in line for line in lines), lines


def test_strict_validation_rejects_an_unknown_field(tmp_path: Path) -> None:
    """Strict mode and the bundled schemas are really in use (no network needed)."""
    deployment = manifests()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFs"] = True
    path = tmp_path / "deployment.yaml"
    path.write_text(yaml.safe_dump(deployment), encoding="utf-8")
    code, lines = kubernetes_validate(path)
    assert code != 0 and any("readOnlyRootFs" in line for line in lines), lines


def test_servicemonitor_matches_vendored_crd_schema(tmp_path: Path) -> None:
    result = run(tool("check-jsonschema"), "--schemafile", SERVICEMONITOR_SCHEMA, K8S / "servicemonitor.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = manifests()["ServiceMonitor"]
    broken["spec"]["endpoints"][0]["scrape_interval"] = "15s"
    path = tmp_path / "servicemonitor.yaml"
    path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    result = run(tool("check-jsonschema"), "--schemafile", SERVICEMONITOR_SCHEMA, path)
    assert result.returncode != 0, "the ServiceMonitor schema accepts an unknown endpoint key"


def test_kustomize_output_passes_strict_validation(tmp_path: Path) -> None:
    rendered = run(tool("kubectl"), "kustomize", K8S)
    assert rendered.returncode == 0, rendered.stderr
    path = tmp_path / "rendered.yaml"
    path.write_text(rendered.stdout, encoding="utf-8")
    kinds = [doc["kind"] for doc in yaml.safe_load_all(rendered.stdout) if doc]
    assert sorted(kinds) == sorted(manifests())
    code, lines = kubernetes_validate(path)
    assert code == 0, lines
    warned = [line for line in lines if line.startswith("WARN")]
    assert len(warned) == len(CRDS) and all("ServiceMonitor" in line for line in warned), lines
    assert sum(" passed " in line for line in lines) == len(kinds) - len(CRDS), lines


def test_kustomization_lists_every_manifest_except_the_secret_example() -> None:
    listed = set(load_yaml(KUSTOMIZATION)["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk
    assert set(manifests()) == {
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ServiceMonitor",
    }


def test_api_versions() -> None:
    objects = manifests()
    assert objects["HorizontalPodAutoscaler"]["apiVersion"] == "autoscaling/v2"
    assert objects["PodDisruptionBudget"]["apiVersion"] == "policy/v1"
    assert objects["ServiceMonitor"]["apiVersion"] == "monitoring.coreos.com/v1"


def test_probes_hit_health_endpoints_on_the_named_http_port() -> None:
    proxy = container()
    assert [p["name"] for p in proxy["ports"]] == ["http"]
    assert proxy["ports"][0]["containerPort"] == 8080
    assert proxy["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert proxy["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert proxy["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_runs_non_root_with_read_only_root_fs_and_resources() -> None:
    proxy = container()
    assert pod_spec()["securityContext"]["runAsNonRoot"] is True
    assert pod_spec()["securityContext"]["runAsUser"] != 0
    assert proxy["securityContext"]["readOnlyRootFilesystem"] is True
    assert proxy["securityContext"]["allowPrivilegeEscalation"] is False
    assert proxy["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(proxy["resources"]["requests"])
    assert "memory" in proxy["resources"]["limits"]
    # A read-only root fs needs a writable /tmp.
    assert any(m["mountPath"] == "/tmp" for m in proxy["volumeMounts"])


def test_policy_configmap_is_mounted_as_a_directory_for_hot_reload() -> None:
    """A subPath mount never sees ConfigMap updates; a directory mount gets kubelet's atomic
    `..data` symlink swap, which the proxy's reload picks up."""
    proxy = container()
    (mount,) = [m for m in proxy["volumeMounts"] if m["name"] == "policy"]
    assert "subPath" not in mount and mount["mountPath"] == "/etc/guardrail"
    (volume,) = [v for v in pod_spec()["volumes"] if v["name"] == "policy"]
    configmap = manifests()["ConfigMap"]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert "items" not in volume["configMap"]
    config = proxy["args"][proxy["args"].index("--config") + 1]
    assert config == f"{mount['mountPath']}/policy.yaml" and "policy.yaml" in configmap["data"]


def test_configmap_policy_is_the_deployed_policy_file() -> None:
    assert manifests()["ConfigMap"]["data"]["policy.yaml"] == (DEPLOY / "policy" / "policy.yaml").read_text(
        encoding="utf-8"
    )


def test_deployed_policy_is_a_valid_policy() -> None:
    policy_path = DEPLOY / "policy" / "policy.yaml"
    spec = read_spec(policy_path)
    for detector in spec.detectors.values():
        refs = [getattr(f, "path", f) for f in getattr(detector, "files", [])]
        for ref in refs:
            assert ref.startswith("pack:"), f"{ref}: the image only has the packs, use pack: paths"
            assert resolve_path(ref, policy_path.parent).is_file(), f"{ref} is not in the shipped packs"


def test_grace_period_covers_pre_stop_and_drain() -> None:
    spec = pod_spec()
    pre_stop = container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + 30


def test_upstream_api_key_comes_from_a_secret() -> None:
    env = {e["name"]: e for e in container()["env"]}
    assert "value" not in env["GUARDRAIL_UPSTREAM_API_KEY"]
    ref = env["GUARDRAIL_UPSTREAM_API_KEY"]["valueFrom"]["secretKeyRef"]
    (example,) = load_yaml_all(K8S / "secret.example.yaml")
    assert ref["name"] == example["metadata"]["name"] and ref["key"] in example["stringData"]
    assert env["GUARDRAIL_UPSTREAM"]["value"].startswith("http")


def test_selectors_line_up() -> None:
    objects = manifests()
    pod_labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for kind in ("Deployment", "PodDisruptionBudget"):
        assert objects[kind]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items(), kind
    service = objects["Service"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    monitor = objects["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    assert all(e["path"] == "/metrics" for e in monitor["endpoints"])
    target = objects["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", objects["Deployment"]["metadata"]["name"])
    assert objects["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2, "the PDB needs a second replica"


def test_container_command_is_the_image_cmd() -> None:
    """The Deployment spells out the Dockerfile's CMD, so both start the proxy the same way."""
    cmd = next(
        line for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines() if line.startswith("CMD ")
    )
    proxy = container()
    assert json.loads(cmd.removeprefix("CMD ")) == proxy["command"] + proxy["args"]


def test_deployed_policy_is_the_default_pack() -> None:
    """deploy/policy/policy.yaml says it is the shipped default pack with `pack:` paths; keep it so."""

    def normalised(path: Path) -> dict[str, Any]:
        spec = read_spec(path).model_dump(mode="json", exclude={"name", "version"})
        text = json.dumps(spec).replace('"pack:', '"')
        normal: dict[str, Any] = json.loads(text)
        return normal

    assert normalised(DEPLOY / "policy" / "policy.yaml") == normalised(DEFAULT_POLICY)
