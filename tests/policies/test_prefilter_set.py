"""The prefilter Set: numeric prefilters stand behind one gate, and the gate never hides one."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.detectors.pii import NUMERIC_GATE, default_slots
from policies.detectors.prefilter_set import PrefilterSet, Screen
from tests.policies.test_cn_ids import LOOK_ALIKES, NEGATIVES, POSITIVES
from tests.policies.test_pii import EVERY_KIND

NUMERIC_SLOTS = [slot for slot in default_slots() if slot.screen is Screen.NUMERIC]
GATE = re2.compile(NUMERIC_GATE)
CORPUS = [text for _, text, _, _ in POSITIVES] + [text for _, text in NEGATIVES] + LOOK_ALIKES + EVERY_KIND

#: Digits and everything that appears inside or around numbers, plus letters and CJK.
NUMBERISH = st.text(
    alphabet=st.sampled_from(list("0123456789" * 4 + " -.()+（）/:_xX62AEGNYab身份证手机号")), max_size=60
)


def assert_gate_inside_every_match(text: str) -> None:
    for slot in NUMERIC_SLOTS:
        assert slot.prefilter is not None
        for match in re2.finditer(slot.prefilter, text):
            assert GATE.search(match.group()), (slot.entity, match.group())


def test_the_numeric_slots_are_the_digit_shaped_ones() -> None:
    assert {slot.entity for slot in NUMERIC_SLOTS} == {
        "CN_RESIDENT_ID", "CN_MOBILE", "CN_LANDLINE", "CN_BANK_CARD", "CN_USCC", "CREDIT_CARD", "US_SSN",
        "PHONE_NUMBER",
    }  # fmt: skip


def test_every_numeric_prefilter_match_in_the_corpus_holds_the_gate() -> None:
    matched = 0
    for text in CORPUS:
        assert_gate_inside_every_match(text)
        matched += sum(1 for slot in NUMERIC_SLOTS for _ in re2.finditer(slot.prefilter or "", text))
    assert matched > 50  # the corpus does exercise the prefilters


@settings(max_examples=400, deadline=None)
@given(NUMBERISH)
def test_every_numeric_prefilter_match_holds_the_gate(text: str) -> None:
    assert_gate_inside_every_match(text)


def test_fired_reports_numeric_prefilters_only_behind_the_gate() -> None:
    prefilters = PrefilterSet(
        [(r"[a-z]+@[a-z]+", Screen.SET), (r"1[0-9]{10}", Screen.NUMERIC), (r"[0-9]{3}-[0-9]{4}", Screen.NUMERIC)],
        extras=["\u200b"],
        numeric_gate=NUMERIC_GATE,
    )
    assert prefilters.fired("no candidates here") == ([], frozenset())
    assert prefilters.fired("mail a@b") == ([0], frozenset())
    # The gate opens both numeric prefilters, whichever of them matches: the caller searches.
    assert prefilters.fired("call 13812345678") == ([1, 2], frozenset())
    assert prefilters.fired("a@b 555-1234\u200b") == ([0, 1, 2], frozenset({0}))
    assert prefilters.fired(b"bytes 555-1234") == ([1, 2], frozenset())
    # Five digits are below the gate: a numeric prefilter could not match them either.
    assert prefilters.fired("12345") == ([], frozenset())


def test_a_set_without_numeric_prefilters_has_no_gate() -> None:
    prefilters = PrefilterSet([(r"[a-z]+@[a-z]+", Screen.SET)])
    assert prefilters.fired("13812345678") == ([], frozenset())


def test_a_prefilter_searched_alone_is_always_reported() -> None:
    prefilters = PrefilterSet([(r"[a-z]+@[a-z]+", Screen.SET), (r"[13][a-z0-9]{25,59}", Screen.ALONE)])
    assert prefilters.fired("nothing") == ([1], frozenset())
    assert prefilters.fired("a@b") == ([0, 1], frozenset())


def test_only_crypto_is_searched_alone() -> None:
    assert [slot.entity for slot in default_slots() if slot.screen is Screen.ALONE] == ["CRYPTO"]


def test_numeric_prefilters_need_a_gate() -> None:
    import pytest

    with pytest.raises(ValueError, match="numeric_gate"):
        PrefilterSet([(r"[0-9]{11}", Screen.NUMERIC)])


def test_the_gate_opens_for_numbers_the_phone_matcher_reads() -> None:
    """Slashes, brackets, tildes, ideographic spaces and non-ASCII digits: phonenumbers reads
    all of them, so the gate and the phone prefilter must too."""
    for number in ("013800/00", "[020] 7946 0958", "020～7946～0958", "020\u30007946\u30000958", "٠٢٠٧٩٤٦٠٩٥٨"):
        assert GATE.search(number), number
