"""`RegionScreen`: a region it rules out is one where phonenumbers finds no number."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from policies.detectors.phone import CandidatePhoneRecognizer
from policies.detectors.phone_regions import RegionScreen

REGIONS = (*PhoneRecognizer.DEFAULT_SUPPORTED_REGIONS, "CN")
SCREEN = RegionScreen(REGIONS)


def _written_numbers() -> list[str]:
    """Real numbers of many regions, written as people write them without a `+`: national
    form, with the country code, after an international prefix."""
    written = []
    for region in (*REGIONS, "HK", "MO", "TW", "JP", "AU", "SG", "MX", "RU"):
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
            international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL).lstrip("+")
            written += [national, international, "00 " + international, "011 " + international, national + " x12"]
    return written


WRITTEN = _written_numbers()
_SEPARATORS = st.sampled_from([" ", "-", ".", "/", "", "(", ") ", "  ", "–", "—", "‑", "．", "－", "\u3000", "ー"])
digit_runs = st.lists(st.text(alphabet="0123456789", min_size=1, max_size=6), min_size=1, max_size=5).flatmap(
    lambda groups: st.lists(_SEPARATORS, min_size=len(groups), max_size=len(groups)).map(
        lambda seps: "".join(g + s for g, s in zip(groups, seps, strict=True)).strip()
    )
)


def _altered(written: str, position: int, digit: str) -> str:
    """`written` with one digit changed: near-numbers, valid or not."""
    indices = [i for i, ch in enumerate(written) if ch.isdigit()]
    i = indices[position % len(indices)]
    return written[:i] + digit + written[i + 1 :]


texts = (
    st.sampled_from(WRITTEN)
    | st.builds(_altered, st.sampled_from(WRITTEN), st.integers(0, 20), st.sampled_from("0123456789"))
    | digit_runs
).map(lambda number: f"tel {number} ok")


@given(texts)
@settings(max_examples=400, deadline=None)
def test_a_region_ruled_out_finds_no_number(text: str) -> None:
    digits = SCREEN.read(text).digits
    for region in REGIONS:
        if not SCREEN.may_hold(region, digits):
            found = [m.raw_string for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=1)]
            assert found == [], (region, text)


@pytest.mark.parametrize("written", WRITTEN)
def test_real_numbers_keep_their_region(written: str) -> None:
    text = f"tel {written} ok"
    digits = SCREEN.read(text).digits
    for region in REGIONS:
        if list(phonenumbers.PhoneNumberMatcher(text, region, leniency=1)):
            assert SCREEN.may_hold(region, digits), (region, text)


@pytest.mark.parametrize(
    ("candidate", "ruled_out"),
    [("20241127", {"US", "GB", "FR", "CA"}), ("2024051213812345", {"US", "GB", "FR", "CA", "CN"})],
)
def test_order_numbers_rule_most_regions_out(candidate: str, ruled_out: set[str]) -> None:
    digits = SCREEN.read(f"no. {candidate}").digits
    assert {region for region in REGIONS if not SCREEN.may_hold(region, digits)} >= ruled_out


@pytest.mark.parametrize(
    "text",
    [
        "call +44 20 7946 0958", "1" * 18, "1 2 3 4 5 6 7", "０２０ ＋",
        # An extension longer than its label takes ends inside a group, and the matcher's next
        # number starts there ("61.734/63009", a valid US number).
        "号码：886 6 2123 4567 #97154139761.734/63009  29541 ext. ok",
    ],
)  # fmt: skip
def test_what_the_screen_cannot_tell_goes_to_every_region(text: str) -> None:
    assert SCREEN.read(text).digits is None
    assert all(SCREEN.may_hold(region, None) for region in REGIONS)


def test_a_region_without_metadata_is_always_asked() -> None:
    screen = RegionScreen(["ZZ"])
    assert screen.may_hold("ZZ", {"123"})


@given(texts)
@settings(max_examples=40, deadline=None)
def test_the_screened_recognizer_finds_what_presidio_finds(text: str) -> None:
    stock, fast = PhoneRecognizer(supported_regions=REGIONS), CandidatePhoneRecognizer(supported_regions=REGIONS)
    expected = sorted((r.start, r.end) for r in stock.analyze(text, ["PHONE_NUMBER"]))
    assert sorted((r.start, r.end) for r in fast.analyze(text, ["PHONE_NUMBER"])) == expected
