"""The prefilter Set: numeric prefilters stand behind one gate, and the gate never hides one."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.detectors.pii_slots import NUMERIC_GATE, default_slots
from policies.detectors.prefilter_set import PrefilterSet
from tests.policies.test_cn_ids import LOOK_ALIKES, NEGATIVES, POSITIVES
from tests.policies.test_pii import EVERY_KIND

NUMERIC_SLOTS = [slot for slot in default_slots() if slot.gate == NUMERIC_GATE]
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


def test_fired_reports_gated_prefilters_whenever_their_gate_matches() -> None:
    prefilters = PrefilterSet(
        [(r"[a-z]+@[a-z]+", None), (r"1[0-9]{10}", NUMERIC_GATE), (r"[0-9]{3}-[0-9]{4}", NUMERIC_GATE)],
        extras=["\u200b"],
    )
    assert prefilters.fired("no candidates here") == ([], frozenset())
    assert prefilters.fired("mail a@b") == ([0], frozenset())
    # The shared gate opens both numeric prefilters, whichever of them matches: the caller searches.
    assert prefilters.fired("call 13812345678") == ([1, 2], frozenset())
    assert prefilters.fired("a@b 555-1234\u200b") == ([0, 1, 2], frozenset({0}))
    assert prefilters.fired(b"bytes 555-1234") == ([1, 2], frozenset())
    # Five digits are below the gate: a numeric prefilter could not match them either.
    assert prefilters.fired("12345") == ([], frozenset())


def test_crypto_is_behind_a_gate_of_its_own() -> None:
    gates = {slot.entity: slot.gate for slot in default_slots() if slot.gate}
    assert gates.pop("CRYPTO") == "[0-9A-Za-z]{26}"
    assert set(gates.values()) == {NUMERIC_GATE}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("13bc1qQzZ09aA xX-")), min_size=20, max_size=80))
def test_every_crypto_prefilter_match_holds_its_gate(text: str) -> None:
    (slot,) = [slot for slot in default_slots() if slot.entity == "CRYPTO"]
    for match in re2.finditer(slot.prefilter or "", text):
        assert re2.search(slot.gate or "", match.group()), match.group()


def test_the_gate_opens_for_numbers_the_phone_matcher_reads() -> None:
    """Slashes, brackets, tildes, ideographic spaces and non-ASCII digits: phonenumbers reads
    all of them, so the gate and the phone prefilter must too."""
    for number in ("013800/00", "[020] 7946 0958", "020～7946～0958", "020\u30007946\u30000958", "٠٢٠٧٩٤٦٠٩٥٨"):
        assert GATE.search(number), number
