"""Policy files: validated once, with errors that name the file, the rule and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.config import PolicyError
from policies.findings import Action, Direction
from policies.loader import load_policy

GOOD = """
name: t
version: "1"
detectors:
  words: {type: keywords, files: [{path: words.txt, category: A.1.h}]}
  secrets: {type: patterns, files: ["pack:patterns/secrets.yaml"]}
prompt:
  - {id: block-words, detector: words, action: block}
completion:
  - {id: mask-words, detector: words, action: redact, style: fixed, replacement: "***"}
"""


def write(tmp_path: Path, policy: str, words: str = "badword\n") -> Path:
    (tmp_path / "words.txt").write_text(words, encoding="utf-8")
    path = tmp_path / "policy.yaml"
    path.write_text(policy, encoding="utf-8")
    return path


def test_a_valid_policy_compiles_and_decides(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, GOOD))
    assert policy.evaluate("a badword here", Direction.PROMPT).action is Action.BLOCK
    decision = policy.evaluate("a BADWORD here", Direction.COMPLETION)
    assert decision.text == "a *** here"
    assert tmp_path / "words.txt" in policy.files


@pytest.mark.parametrize(
    ("policy", "words", "message"),
    [
        ("name: t\nversion: '1'\ndetectors: {}\nprompt: [{id: r, detector: nope, action: block}]", "x\n",
         "names detector 'nope'"),
        (GOOD.replace("type: keywords", "type: magic"), "x\n", "detectors.words"),
        (GOOD.replace("action: block", "action: explode"), "x\n", "prompt.0.action"),
        (GOOD.replace("words.txt", "missing.txt"), "x\n", "missing.txt: file not found; fix the path"),
        (GOOD + "unknown_key: 1\n", "x\n", "unknown_key"),
        ("- a list\n", "x\n", "must be a YAML mapping"),
        ("name: [unclosed\n", "x\n", "cannot read policy YAML"),
        (GOOD.replace("A.1.h", "Z.9"), "x\n", "Z.9"),
        # a partial mask of a term keeps it readable: c-a****-n-o (sixth review)
        (GOOD.replace("style: fixed, replacement: \"***\"", "style: mask"), "x\n",
         "rule 'mask-words' redacts keyword findings with style 'mask'"),
        ("name: t\nversion: '1'\ndetectors: {pii: {type: pii, phone_regions: [HK, UK]}}\n", "x\n",
         "unknown region codes ['UK']; use ISO 3166 codes"),
        ("name: t\nversion: '1'\ndetectors: {pii: {type: pii, phone_regions: [NO, CN]}}\n", "x\n",
         'quote them: "NO"'),
    ],
)
def test_bad_policies_name_file_and_fix(tmp_path: Path, policy: str, words: str, message: str) -> None:
    path = write(tmp_path, policy, words)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(path.parent) in str(caught.value)
    assert message in str(caught.value)


def test_default_pack_loads() -> None:
    policy = load_policy()
    assert policy.name == "default"
    assert {"secrets", "demo_words", "pii", "urls", "injection"} <= set(policy.detectors)
    assert 0 < policy.hold_back_chars(Direction.COMPLETION) < 300
