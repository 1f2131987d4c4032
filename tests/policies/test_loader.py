"""Reloading a policy takes over the detectors whose spec and files did not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.config import NerSpec, PolicyError
from policies.detectors.keyword_appends import AppendedKeywords
from policies.detectors.keywords import KeywordDetector
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
    assert [file.path for file in files] == [str(tmp_path / "urgent.txt")]
    assert [(file.size, file.lines) for file in files] == [(len(b"oldterm\n"), 1)]
    assert policy.inputs["pii"] == (policy.spec.detectors["pii"], ())


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def test_a_term_appended_to_the_big_lexicon_keeps_its_automaton(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path))
    append(tmp_path / "big.txt", "紧急新词\n")
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    big = second.detectors["big"]
    assert isinstance(big, AppendedKeywords) and big.base is first.detectors["big"]
    assert big.appended_terms == 1 and second.term_count == first.term_count + 1
    assert second.evaluate("这里有紧 急 新 词", Direction.PROMPT).action is Action.BLOCK
    assert second.evaluate("say bigterm7", Direction.PROMPT).action is Action.BLOCK
    assert first.evaluate("这里有紧急新词", Direction.PROMPT).action is Action.ALLOW  # in flight: unchanged

    append(tmp_path / "big.txt", "second urgent\n")  # appends keep layering onto the same build
    third = load_policy(tmp_path / "policy.yaml", reuse=second)
    assert isinstance(third.detectors["big"], AppendedKeywords) and third.detectors["big"].base is first.detectors["big"]
    assert third.detectors["big"].appended_terms == 2
    assert third.evaluate("a SECOND-URGENT one", Direction.PROMPT).action is Action.BLOCK
    assert third.evaluate("这里有紧急新词", Direction.PROMPT).action is Action.BLOCK


def test_a_file_changed_other_than_by_appending_lines_is_built_again(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path))
    big = tmp_path / "big.txt"
    big.write_text(big.read_text(encoding="utf-8").replace("bigterm7\n", "bigterm7x\n"), encoding="utf-8")
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    assert type(second.detectors["big"]) is KeywordDetector and second.detectors["big"] is not first.detectors["big"]
    assert second.evaluate("say bigterm7", Direction.PROMPT).action is Action.ALLOW


def test_a_last_line_without_a_line_break_that_grows_is_built_again(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path, urgent="oldterm\nnewte"))
    append(tmp_path / "urgent.txt", "rm\n")  # the half-written line `newte` became `newterm`
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    assert type(second.detectors["urgent"]) is KeywordDetector
    assert second.evaluate("say newterm", Direction.PROMPT).action is Action.BLOCK
    assert second.evaluate("say newte", Direction.PROMPT).action is Action.ALLOW


def test_an_appended_line_giving_a_known_term_another_category_is_built_again(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path))
    append(tmp_path / "big.txt", "bigterm7\tA.2.a\n")  # a duplicate line: the first one's category wins
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    assert type(second.detectors["big"]) is KeywordDetector
    assert {h.finding.category for h in second.evaluate("say bigterm7", Direction.PROMPT).hits} == {"A.1.h"}


def test_an_appended_line_repeating_a_known_term_adds_nothing(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path))
    append(tmp_path / "big.txt", "BigTerm7\n")
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    big = second.detectors["big"]
    assert isinstance(big, AppendedKeywords) and big.appended_terms == 0
    assert [h.finding.category for h in second.evaluate("say bigterm7", Direction.PROMPT).hits] == ["A.1.h"]


def test_a_bad_appended_line_is_an_error_naming_its_line(tmp_path: Path) -> None:
    first = load_policy(write(tmp_path))
    with (tmp_path / "big.txt").open("ab") as file:
        file.write(b"fine\nbad \xff byte\n")
    with pytest.raises(PolicyError, match=r"big\.txt:202: invalid UTF-8"):
        load_policy(tmp_path / "policy.yaml", reuse=first)


HASHING = """
name: h
version: "1"
detectors:
  pii: {type: pii, entities: [CN_MOBILE]}
prompt:
  - {id: hash-pii, detector: pii, action: redact, style: hash}
"""


def test_hash_style_needs_a_salt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unkeyed hash of a mobile number is reversed by hashing every mobile number."""
    path = tmp_path / "policy.yaml"
    path.write_text(HASHING, encoding="utf-8")
    monkeypatch.delenv("GUARDRAIL_HASH_SALT", raising=False)
    with pytest.raises(PolicyError, match=r"rule 'hash-pii' .*\$GUARDRAIL_HASH_SALT is unset or empty"):
        load_policy(path)
    assert load_policy(path, require_salt=False).salt == b""  # `check`, away from production secrets
    monkeypatch.setenv("GUARDRAIL_HASH_SALT", "a-long-random-secret")
    redacted = load_policy(path).evaluate("手机 13812345678", Direction.PROMPT).text
    assert redacted.startswith("手机 <CN_MOBILE:") and "13812345678" not in redacted


def test_only_a_redacting_hash_rule_needs_the_salt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(HASHING.replace("action: redact", "action: monitor"), encoding="utf-8")
    monkeypatch.delenv("GUARDRAIL_HASH_SALT", raising=False)
    assert load_policy(path).name == "h"


def test_a_file_that_changes_while_it_is_read_is_built_whole_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A half-written line read into an automaton must not stay there under later appends."""
    from policies.detectors import keywords

    first = load_policy(write(tmp_path))
    big = tmp_path / "big.txt"
    append(big, "urgentterm\n")
    real = keywords.read_lexicon

    def read_then_write(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        yield from real(*args, **kwargs)  # type: ignore[arg-type]
        if str(args[0]).endswith("big.txt") and "half" not in big.read_text(encoding="utf-8"):
            append(big, "halfwritten\n")  # the writer goes on while the build reads

    monkeypatch.setattr(keywords, "read_lexicon", read_then_write)
    second = load_policy(tmp_path / "policy.yaml", reuse=first)
    assert second.inputs["big"] is None  # what was read is no state of the file
    monkeypatch.setattr(keywords, "read_lexicon", real)
    third = load_policy(tmp_path / "policy.yaml", reuse=second)
    assert type(third.detectors["big"]) is KeywordDetector  # built whole, not layered
    assert third.evaluate("say halfwritten", Direction.PROMPT).action is Action.BLOCK
