"""`DecisionCache` and `Policy.evaluate` with it: a text seen before is decided as before,
without its detectors running again, and the cache holds no text."""

from __future__ import annotations

import pickle
from datetime import date

from policies.actions import Hit
from policies.config import PolicySpec
from policies.decision_cache import MAX_CACHED_HITS, MIN_CACHED_CHARS, DecisionCache
from policies.engine import Policy
from policies.findings import Action, Direction, Finding
from policies.loader import load_policy

LONG = "请把报告发到 li.lei@example.com，手机 13812345678，谢谢。Please send the report before Friday noon."
HIT = Hit(Finding("pii", "CN_MOBILE", "pii", 1, 12, 1.0, "pii.CN_MOBILE"), "redact-pii", Action.REDACT)


def test_a_prompt_is_remembered_in_its_scope() -> None:
    cache = DecisionCache(8)
    cache.put(Direction.PROMPT, LONG, Action.REDACT, (HIT,), scope="client-a")
    assert cache.get(Direction.PROMPT, LONG, scope="client-a") == (Action.REDACT, (HIT,))
    assert cache.get(Direction.PROMPT, LONG, scope="client-b") is None  # no timing oracle across clients
    assert cache.get(Direction.PROMPT, LONG + " ", scope="client-a") is None


def test_completions_are_not_remembered() -> None:
    cache = DecisionCache(8)
    cache.put(Direction.COMPLETION, LONG, Action.ALLOW, ())
    assert cache.get(Direction.COMPLETION, LONG) is None and len(cache) == 0


def test_a_decision_with_many_hits_is_not_remembered() -> None:
    cache = DecisionCache(8)
    cache.put(Direction.PROMPT, LONG, Action.REDACT, (HIT,) * (MAX_CACHED_HITS + 1))
    assert len(cache) == 0
    cache.put(Direction.PROMPT, LONG, Action.REDACT, (HIT,) * MAX_CACHED_HITS)
    assert len(cache) == 1


def test_the_cache_empties_when_the_date_changes() -> None:
    """A resident ID born tomorrow is no ID today, and is one tomorrow."""
    days = [date(2026, 11, 27)]
    cache = DecisionCache(8, today=lambda: days[0])
    cache.put(Direction.PROMPT, LONG, Action.ALLOW, ())
    assert cache.get(Direction.PROMPT, LONG) is not None
    days[0] = date(2026, 11, 28)
    assert cache.get(Direction.PROMPT, LONG) is None and len(cache) == 0


def test_short_texts_are_not_remembered() -> None:
    cache = DecisionCache(8)
    short = "x" * (MIN_CACHED_CHARS - 1)
    cache.put(Direction.PROMPT, short, Action.ALLOW, ())
    assert cache.get(Direction.PROMPT, short) is None and len(cache) == 0


def test_the_least_recently_used_text_goes_first() -> None:
    cache = DecisionCache(2)
    texts = [f"{n} {LONG}" for n in range(3)]
    cache.put(Direction.PROMPT, texts[0], Action.ALLOW, ())
    cache.put(Direction.PROMPT, texts[1], Action.ALLOW, ())
    assert cache.get(Direction.PROMPT, texts[0]) is not None  # now the most recent
    cache.put(Direction.PROMPT, texts[2], Action.ALLOW, ())
    assert len(cache) == 2
    assert cache.get(Direction.PROMPT, texts[1]) is None
    assert cache.get(Direction.PROMPT, texts[0]) is not None


def test_no_entries_turns_it_off() -> None:
    cache = DecisionCache(0)
    cache.put(Direction.PROMPT, LONG, Action.ALLOW, ())
    assert cache.get(Direction.PROMPT, LONG) is None


def test_the_cache_holds_digests_not_text() -> None:
    cache = DecisionCache(8)
    cache.put(Direction.PROMPT, LONG, Action.REDACT, (HIT,))
    cache.put(Direction.PROMPT, "\ud800 lone surrogate " * 8, Action.ALLOW, ())
    dumped = pickle.dumps(cache._remembered)
    for secret in ("13812345678", "li.lei", "report"):
        assert secret.encode() not in dumped
    # Keyed per cache: the same text has another digest in another process or policy.
    assert DecisionCache(8)._digest(LONG, "") != cache._digest(LONG, "")


def test_evaluate_remembers_and_gives_the_same_decision() -> None:
    policy = load_policy()
    first = policy.evaluate(LONG, Direction.PROMPT)
    second = policy.evaluate(LONG, Direction.PROMPT)
    assert not first.cached and first.timings
    assert second.cached and not second.timings
    assert (second.action, second.text, second.hits) == (first.action, first.text, first.hits)
    assert "<CN_MOBILE>" in second.text and "13812345678" not in second.text


def test_a_reloaded_policy_decides_afresh() -> None:
    policy = load_policy()
    policy.evaluate(LONG, Direction.PROMPT)
    assert not load_policy().evaluate(LONG, Direction.PROMPT).cached


def test_decision_cache_zero_in_the_policy_turns_it_off() -> None:
    spec = load_policy().spec.model_copy(update={"decision_cache": 0})
    policy = Policy(spec, load_policy().detectors)
    policy.evaluate(LONG, Direction.PROMPT)
    assert not policy.evaluate(LONG, Direction.PROMPT).cached


def test_a_decision_with_a_failed_detector_is_not_remembered() -> None:
    calls: list[str] = []

    class Flaky:
        name = "flaky"
        max_match_chars = 1

        def detect(self, text: str) -> list[Finding]:
            calls.append(text)
            if len(calls) == 1:
                raise RuntimeError("transient")
            return []

    spec = PolicySpec.model_validate({
        "name": "t", "version": "1", "detectors": {"flaky": {"type": "patterns", "files": ["x"]}},
        "prompt": [{"id": "r", "detector": "flaky", "action": "block"}],
    })
    policy = Policy(spec, {"flaky": Flaky()})
    assert policy.evaluate(LONG, Direction.PROMPT).blocked  # fail closed
    retried = policy.evaluate(LONG, Direction.PROMPT)
    assert not retried.cached and not retried.blocked and len(calls) == 2
    assert policy.evaluate(LONG, Direction.PROMPT).cached
