"""Reloading a policy takes over the detectors whose spec and files did not change."""

from __future__ import annotations

from pathlib import Path

from policies.config import NerSpec
from policies.findings import Action, Direction
from policies.loader import detector_inputs, load_policy

POLICY = """
name: t
version: "{version}"
detectors:
  big: {{type: keywords, max_gap: {gap}, files: [{{path: big.txt, category: A.1.h}}]}}
  urgent: {{type: keywords, files: [{{path: urgent.txt, category: A.1.h}}]}}
  pii: {{type: pii}}
  secrets: {{type: patterns, files: ["pack:patterns/secrets.yaml"]}}
prompt:
  - {{id: block-big, detector: big, action: block}}
  - {{id: block-urgent, detector: urgent, action: block}}
  - {{id: redact-pii, detector: pii, action: redact}}
  - {{id: block-secrets, detector: secrets, action: block}}
"""


def write(tmp_path: Path, version: str = "1", gap: int = 3, urgent: str = "oldterm\n") -> Path:
    (tmp_path / "big.txt").write_text("".join(f"bigterm{i}\n" for i in range(200)), encoding="utf-8")
    (tmp_path / "urgent.txt").write_text(urgent, encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(version=version, gap=gap), encoding="utf-8")
    return path


def test_an_unchanged_policy_takes_over_every_detector(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path))
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    assert second is not first
    assert all(second.detectors[name] is first.detectors[name] for name in first.detectors)


def test_an_emergency_term_rebuilds_its_own_lexicon_only(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path))
    assert first.evaluate("say newterm", Direction.PROMPT).action is Action.ALLOW
    (tmp_path / "urgent.txt").write_text("oldterm\nnewterm\n", encoding="utf-8")
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    assert second.detectors["urgent"] is not first.detectors["urgent"]
    assert [name for name in first.detectors if second.detectors[name] is first.detectors[name]] == [
        "big", "pii", "secrets",
    ]  # fmt: skip
    assert second.evaluate("say newterm", Direction.PROMPT).action is Action.BLOCK
    assert second.evaluate("say bigterm7", Direction.PROMPT).action is Action.BLOCK
    assert first.evaluate("say newterm", Direction.PROMPT).action is Action.ALLOW  # in flight: unchanged


def test_a_changed_spec_rebuilds_the_detector(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path, gap=3))
    second = load_policy(write(tmp_path, version="2", gap=1), reuse=first)
    assert second.detectors["big"] is not first.detectors["big"]
    assert second.detectors["urgent"] is first.detectors["urgent"]
    assert second.version == "2"


def test_a_rewritten_file_with_the_same_bytes_is_unchanged(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path))
    write(tmp_path)  # same content, new mtime
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    assert second.detectors["big"] is first.detectors["big"]


def test_ner_detectors_are_always_rebuilt() -> None:
    """A model's files are not the policy's: their bytes are not in the inputs."""
    assert detector_inputs(NerSpec(type="ner", model="zh_core_web_sm"), Path(".")) is None


def test_a_policy_remembers_what_each_detector_was_built_from(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path))
    spec, files = policy.inputs["urgent"]  # type: ignore[misc]
    assert spec == policy.spec.detectors["urgent"]
    assert [path for path, _ in files] == [str(tmp_path / "urgent.txt")]
    assert policy.inputs["pii"] == (policy.spec.detectors["pii"], ())
