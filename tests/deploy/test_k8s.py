"""deploy/k8s: kubernetes-validate --strict (bundled schemas, offline) on each manifest and on
the kustomize output, the ServiceMonitor CRD against a vendored schema, and the wiring."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies.config import DEFAULT_POLICY, read_spec, resolve_path
from proxy.auth import ClientKeys
from proxy.cli import build_parser
from tests.deploy.conftest import DEPLOY, SCHEMAS, load_yaml, load_yaml_all, run, tool

K8S = DEPLOY / "k8s"
KUSTOMIZATION = K8S / "kustomization.yaml"
SERVICEMONITOR_SCHEMA = SCHEMAS / "servicemonitor-monitoring.coreos.com-v1.json"
CRDS = {"ServiceMonitor"}  # kinds kubernetes-validate has no schema for
CORE_MANIFESTS = sorted(
    p.name for p in K8S.glob("*.yaml") if p.name not in {"kustomization.yaml", "servicemonitor.yaml"}
)
# Applied by hand, never by the kustomization: Secrets (no real secret in the repo) and the
# audit storage (it must outlive `kubectl delete -k`).
EXAMPLES = {
    "secret.example.yaml": {"Secret"},
    "secret-client-keys.example.yaml": {"Secret"},
    "secret-audit.example.yaml": {"Secret"},
    "audit-storage.example.yaml": {"PersistentVolumeClaim", "CronJob"},
}
KEYS_EXAMPLE = DEPLOY / "keys" / "keys.yaml.example"
# Seconds kept free between the proxy's own shutdown budget and SIGKILL: supervisor and worker
# exit, audit file close.
SHUTDOWN_MARGIN_SECONDS = 5


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


def example(name: str, kind: str) -> dict[str, Any]:
    (doc,) = [d for d in load_yaml_all(K8S / name) if d["kind"] == kind]
    return dict(doc)


def flag(name: str) -> str:
    """The value of a `--name value` argument of the proxy container."""
    args = container()["args"]
    assert args.count(name) == 1, f"{name} given {args.count(name)} times"
    return str(args[args.index(name) + 1])


def env() -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container()["env"]}


def mount_for(path: str) -> dict[str, Any]:
    """The volumeMount whose mountPath holds `path` (the deepest one)."""
    mounts = [m for m in container()["volumeMounts"] if path == m["mountPath"] or path.startswith(m["mountPath"] + "/")]
    assert mounts, f"nothing is mounted at {path}"
    return dict(max(mounts, key=lambda m: len(m["mountPath"])))


def volume(name: str) -> dict[str, Any]:
    (vol,) = [v for v in pod_spec()["volumes"] if v["name"] == name]
    return dict(vol)


def cpu_cores(quantity: str | int | float) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


@pytest.mark.parametrize("name", CORE_MANIFESTS)
def test_core_manifest_passes_strict_validation(name: str) -> None:
    code, lines = kubernetes_validate(K8S / name)
    assert code == 0, lines
    assert lines and all(line.startswith("INFO") and " passed " in line for line in lines), lines
    assert len(lines) == len(load_yaml_all(K8S / name)), "every object in the file is validated"


def test_examples_are_validated_and_kept_out_of_the_kustomization() -> None:
    assert set(EXAMPLES) <= set(CORE_MANIFESTS)
    assert {p.name for p in K8S.glob("*.example.yaml")} == set(EXAMPLES)
    for name, kinds in EXAMPLES.items():
        assert {d["kind"] for d in load_yaml_all(K8S / name)} == kinds, name
        assert name not in load_yaml(KUSTOMIZATION)["resources"], name


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


def test_kustomization_lists_every_manifest_except_the_examples() -> None:
    listed = set(load_yaml(KUSTOMIZATION)["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"} - set(EXAMPLES)
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


def test_grace_period_covers_pre_stop_drain_and_shutdown_timeout() -> None:
    """SIGKILL comes terminationGracePeriodSeconds after the pod is deleted; before it, the
    preStop hook (if any), the drain and the wait for in-flight streams must all fit."""
    pre_stop = container().get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
    drain = float(flag("--drain-seconds"))
    shutdown = float(flag("--shutdown-timeout"))
    grace = pod_spec()["terminationGracePeriodSeconds"]
    assert grace >= pre_stop + drain + shutdown + SHUTDOWN_MARGIN_SECONDS, (grace, pre_stop, drain, shutdown)
    assert shutdown >= 30, "streams need time to finish"
    # The comment that explains the sum says the same numbers.
    text = (K8S / "deployment.yaml").read_text(encoding="utf-8")
    said = re.search(
        r"terminationGracePeriodSeconds (\d+) >= preStop (\d+) \+ drain (\d+) \+ shutdown timeout (\d+)\s*#\s*\+ (\d+) s margin",
        text,
    )
    assert said, "deployment.yaml must spell out the grace period arithmetic"
    assert [int(n) for n in said.groups()[:4]] == [grace, pre_stop, drain, shutdown]
    assert int(said.group(1)) >= sum(int(n) for n in said.groups()[1:])


def test_drain_outlasts_readiness_detection() -> None:
    """The listener stays open until a load balancer probing /readyz has seen it fail."""
    probe = container()["readinessProbe"]
    assert float(flag("--drain-seconds")) >= probe["periodSeconds"] * probe["failureThreshold"]


def test_workers_match_the_cpu_request() -> None:
    resources = container()["resources"]
    workers = int(flag("--workers"))
    assert workers == cpu_cores(resources["requests"]["cpu"]) >= 1
    assert cpu_cores(resources["limits"]["cpu"]) >= workers


def test_deployment_arguments_are_accepted_by_the_proxy() -> None:
    proxy = container()
    assert proxy["command"] == ["guardrail-proxy"]
    args = build_parser().parse_args(proxy["args"])
    assert args.command == "serve"
    assert args.client_keys == Path("/etc/guardrail-keys/keys.yaml")
    assert args.audit_path == Path("/var/log/guardrail/$(POD_NAME)/audit.jsonl")
    assert args.audit_retention_days == 180
    assert args.audit_on_error == "block"


def test_client_keys_come_from_a_secret_mounted_as_a_directory() -> None:
    keys_file = flag("--client-keys")
    mount = mount_for(keys_file)
    assert mount["mountPath"] == "/etc/guardrail-keys" and keys_file == "/etc/guardrail-keys/keys.yaml"
    assert mount["readOnly"] is True and "subPath" not in mount
    secret = volume(mount["name"])["secret"]
    assert secret.get("optional") is not True, "keys are on: no Secret, no pod"
    keys_secret = example("secret-client-keys.example.yaml", "Secret")
    assert secret["secretName"] == keys_secret["metadata"]["name"]
    assert "items" not in secret and Path(keys_file).name in keys_secret["stringData"]
    assert secret["defaultMode"] & 0o007 == 0, "not world-readable"


def test_client_keys_example_is_the_keys_file_example_and_holds_only_digests(tmp_path: Path) -> None:
    text = example("secret-client-keys.example.yaml", "Secret")["stringData"]["keys.yaml"]
    assert text == KEYS_EXAMPLE.read_text(encoding="utf-8")
    path = tmp_path / "keys.yaml"
    path.write_text(text, encoding="utf-8")
    keys = ClientKeys.load(path)  # the proxy accepts it
    assert len(keys.digests) >= 2 and all(policy is None for policy in keys.policies.values())
    spec = yaml.safe_load(text)
    assert all(set(key) == {"tenant", "sha256"} for key in spec["keys"])
    assert all(re.fullmatch(r"[0-9a-f]{64}", key["sha256"]) for key in spec["keys"])
    assert "hash-key" in text, "the example says how digests are made"
    assert not re.search(r"sk-[A-Za-z0-9]{8,}", text), "no plaintext key in the example"


def test_audit_trail_is_on_a_persistent_volume_claim() -> None:
    audit_path = flag("--audit-path")
    assert audit_path == "/var/log/guardrail/$(POD_NAME)/audit.jsonl"
    assert int(flag("--audit-retention-days")) == 180
    mount = mount_for(audit_path)
    assert mount["mountPath"] == "/var/log/guardrail" and not mount.get("readOnly")
    vol = volume(mount["name"])
    assert "emptyDir" not in vol, "an emptyDir dies with the pod, long before 180 days"
    pvc = example("audit-storage.example.yaml", "PersistentVolumeClaim")
    assert vol["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    # Every replica mounts the one claim, each writing its own directory.
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    pod_name = env()["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert pod_name == "metadata.name"
    # The root filesystem stays read-only: the audit directory is the mounted volume.
    assert container()["securityContext"]["readOnlyRootFilesystem"] is True
    # No recursive chown of months of audit files at every pod start.
    assert pod_spec()["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"


def test_audit_salt_comes_from_a_required_secret() -> None:
    salt = env()["GUARDRAIL_AUDIT_SALT"]
    assert "value" not in salt
    ref = salt["valueFrom"]["secretKeyRef"]
    assert ref.get("optional") is not True
    secret = example("secret-audit.example.yaml", "Secret")
    assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    assert secret["stringData"][ref["key"]] == "", "an empty example salt: the proxy refuses it if applied unchanged"


def expiry_command() -> tuple[dict[str, Any], list[str]]:
    cronjob = example("audit-storage.example.yaml", "CronJob")
    (job,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return cronjob, job["command"]


def test_audit_expiry_cronjob_matches_the_retention_and_the_claim() -> None:
    cronjob, command = expiry_command()
    spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (job,) = spec["containers"]
    (mount,) = job["volumeMounts"]
    (vol,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    assert (
        vol["persistentVolumeClaim"]["claimName"]
        == volume(mount_for(flag("--audit-path"))["name"])["persistentVolumeClaim"]["claimName"]
    )
    assert mount["mountPath"] == "/var/log/guardrail"
    minutes = re.search(r"-name 'audit\*\.jsonl'\s+-mmin \+(\d+)", command[-1])
    assert minutes and int(minutes.group(1)) == int(flag("--audit-retention-days")) * 1440
    assert spec["securityContext"]["runAsUser"] == pod_spec()["securityContext"]["runAsUser"]
    assert job["securityContext"]["readOnlyRootFilesystem"] is True
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"


def test_audit_expiry_command_deletes_only_expired_files_and_stale_empty_directories(tmp_path: Path) -> None:
    """The CronJob's shell command, run here on a tree shaped like the audit volume."""
    _, command = expiry_command()
    assert command[:2] == ["sh", "-c"]
    root = tmp_path / "audit"
    day = 86400
    now = time.time()

    def make(rel: str, age_days: float) -> Path:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n", encoding="utf-8")
        os.utime(path, (now - age_days * day, now - age_days * day))
        return path

    gone_old = make("guardrail-proxy-old-pod/audit-20260101T000000000000.jsonl", 181)
    gone_current = make("guardrail-proxy-old-pod/audit.jsonl", 180.5)
    gone_recent = make("guardrail-proxy-old-pod/audit-20260601T000000000000.jsonl", 100)
    live = make("guardrail-proxy-live-pod/audit.jsonl", 0)
    live_rotated = make("guardrail-proxy-live-pod/audit-20261126T000000000000.jsonl", 1)
    other = make("guardrail-proxy-live-pod/notes.txt", 400)
    stale_empty = root / "guardrail-proxy-emptied-pod"
    stale_empty.mkdir()
    os.utime(stale_empty, (now - 3 * day, now - 3 * day))
    fresh_empty = root / "guardrail-proxy-starting-pod"
    fresh_empty.mkdir()
    for directory in (gone_old.parent, live.parent):
        os.utime(directory, (now - 2 * day, now - 2 * day))

    script = command[2].replace("/var/log/guardrail", shlex.quote(str(root)))
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr

    assert not gone_old.exists() and not gone_current.exists()
    assert gone_recent.exists() and live.exists() and live_rotated.exists() and other.exists()
    assert not stale_empty.exists()
    assert fresh_empty.exists(), "a just-created pod directory must survive"
    assert root.exists()


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


def test_container_command_is_the_image_cmd_plus_deploy_flags() -> None:
    """The Deployment spells out the Dockerfile's CMD, so both start the proxy the same way,
    then adds client keys, the audit trail, workers and shutdown timings."""
    cmd = next(
        line for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines() if line.startswith("CMD ")
    )
    image_cmd = json.loads(cmd.removeprefix("CMD "))
    proxy = container()
    full = proxy["command"] + proxy["args"]
    assert full[: len(image_cmd)] == image_cmd
    added = full[len(image_cmd) :]
    assert {a for a in added if a.startswith("--")} == {
        "--client-keys",
        "--audit-path",
        "--audit-retention-days",
        "--workers",
        "--drain-seconds",
        "--shutdown-timeout",
    }


def test_deployed_policy_is_the_default_pack() -> None:
    """deploy/policy/policy.yaml says it is the shipped default pack with `pack:` paths; keep it so."""

    def normalised(path: Path) -> dict[str, Any]:
        spec = read_spec(path).model_dump(mode="json", exclude={"name", "version"})
        text = json.dumps(spec).replace('"pack:', '"')
        normal: dict[str, Any] = json.loads(text)
        return normal

    assert normalised(DEPLOY / "policy" / "policy.yaml") == normalised(DEFAULT_POLICY)
