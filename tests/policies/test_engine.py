"""`Policy.hold_back_chars`: only as long as the rules that can change the text need."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.detectors.patterns import PatternDetector, PatternRule
from policies.detectors.pii import FORMAT_CHARS_ALLOWANCE
from policies.engine import Policy
from policies.findings import Direction
from policies.loader import load_policy
from policies.streaming import StreamScanner

PATTERNS = """
category: secrets
rules:
  - {id: short, regex: "key-[0-9]{4}", kind: SHORT, max_chars: 8}
  - {id: long, regex: "tok-[a-z]{1,200}", kind: LONG, max_chars: 204}
"""


def policy(tmp_path: Path, rules: str) -> Policy:
    (tmp_path / "words.txt").write_text("badword\n", encoding="utf-8")
    (tmp_path / "p.yaml").write_text(PATTERNS, encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(
        "name: t\nversion: '1'\ndetectors:\n"
        "  pii: {type: pii, entities: [CN_MOBILE, EMAIL_ADDRESS, URL]}\n"
        "  pats: {type: patterns, files: [p.yaml]}\n"
        "  words: {type: keywords, files: [{path: words.txt, category: A.1.h}]}\n"
        f"completion:\n{rules}",
        encoding="utf-8",
    )
    return load_policy(tmp_path / "policy.yaml")


@pytest.mark.parametrize(
    ("rules", "hold_back"),
    [
        ("  - {id: r, detector: pii, action: redact}\n", 256 + FORMAT_CHARS_ALLOWANCE - 1),  # URL
        ("  - {id: r, detector: pii, kinds: [CN_MOBILE], action: redact}\n", 19 + FORMAT_CHARS_ALLOWANCE - 1),
        (
            "  - {id: r, detector: pii, kinds: [CN_MOBILE], action: redact}\n"
            "  - {id: m, detector: pii, action: monitor}\n",
            19 + FORMAT_CHARS_ALLOWANCE - 1,
        ),
        (
            "  - {id: r, detector: pii, kinds: [CN_MOBILE], action: redact}\n"
            "  - {id: b, detector: pii, kinds: [EMAIL_ADDRESS], action: block}\n",
            80 + FORMAT_CHARS_ALLOWANCE - 1,
        ),
        ("  - {id: r, detector: pii, kinds: [NOT_A_KIND], action: redact}\n", 0),
        ("  - {id: m, detector: pii, action: monitor}\n", 0),
        ("  - {id: r, detector: pats, kinds: [SHORT], action: block}\n", 7),
        ("  - {id: r, detector: pats, action: block}\n", 203),
        (
            "  - {id: r, detector: pats, kinds: [SHORT], action: block}\n"
            "  - {id: p, detector: pii, kinds: [CN_MOBILE], action: redact}\n",
            19 + FORMAT_CHARS_ALLOWANCE - 1,
        ),
        # A detector without `max_chars_for` (keywords) is asked for its overall bound.
        ("  - {id: w, detector: words, kinds: [KEYWORD], action: block}\n", 7 + 6 * 5 - 1),
    ],
)
def test_hold_back_is_the_longest_match_a_changing_rule_takes(tmp_path: Path, rules: str, hold_back: int) -> None:
    assert policy(tmp_path, rules).hold_back_chars(Direction.COMPLETION) == hold_back
    assert policy(tmp_path, rules).hold_back_chars(Direction.PROMPT) == 0


def test_pattern_detector_max_chars_for() -> None:
    rules = [
        PatternRule("a", "a{1,5}", "A", "secrets", max_chars=5),
        PatternRule("b", "b{1,9}", "B", "secrets", max_chars=9),
    ]
    detector = PatternDetector("p", rules)
    assert detector.max_chars_for(None) == detector.max_match_chars == 9
    assert detector.max_chars_for(frozenset({"A"})) == 5
    assert detector.max_chars_for(frozenset({"A", "B"})) == 9
    assert detector.max_chars_for(frozenset({"C"})) == 0


def test_a_tight_hold_back_still_redacts_at_every_split(tmp_path: Path) -> None:
    tight = policy(
        tmp_path,
        "  - {id: r, detector: pii, kinds: [CN_MOBILE], action: redact}\n  - {id: m, detector: pii, action: monitor}\n",
    )
    text = "see https://example.com/a/very/long/path/that/is/only/monitored?x=1 or call 138 1234 5678 now"
    whole = tight.evaluate(text, Direction.COMPLETION).text
    assert whole.endswith("or call <CN_MOBILE> now")
    for cut in range(len(text) + 1):
        scanner = StreamScanner(tight, Direction.COMPLETION)
        released = scanner.feed(text[:cut]).text + scanner.feed(text[cut:]).text + scanner.flush().text
        assert released == whole, cut


def test_default_pack_hold_back() -> None:
    default = load_policy()
    # E-mail (80) is the longest redacted PII kind; URLs are only monitored.
    assert default.hold_back_chars(Direction.COMPLETION) == 80 + FORMAT_CHARS_ALLOWANCE - 1


def test_a_failing_detector_blocks_and_its_message_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Fail closed (on_error: block), and the log names the detector, never the text."""
    from policies.config import PolicySpec
    from policies.findings import Finding

    class Exploding:
        name = "boom"
        max_match_chars = 1

        def detect(self, text: str) -> list[Finding]:
            raise ValueError(f"cannot handle {text!r}")

    spec = PolicySpec.model_validate({
        "name": "t", "version": "1", "detectors": {"boom": {"type": "patterns", "files": ["x"]}},
        "prompt": [{"id": "r", "detector": "boom", "action": "block"}],
    })
    policy = Policy(spec, {"boom": Exploding()})
    decision = policy.evaluate("secret 13812345678", Direction.PROMPT)
    assert decision.blocked and decision.failed == ("boom",)
    assert "boom" in caplog.text and "ValueError" in caplog.text
    assert "13812345678" not in caplog.text
