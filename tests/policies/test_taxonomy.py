"""The risk taxonomy: Appendix A of TC260-003 / GB/T 45654-2025 plus three extra categories."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.taxonomy import CATEGORIES, GROUPS, MINIMUM_TERMS, Risk, coverage_warnings

TAXONOMY_MD = Path(__file__).resolve().parents[2] / "policies" / "packs" / "TAXONOMY.md"


@pytest.mark.parametrize(
    ("group", "letters"),
    [("A.1", "abcdefgh"), ("A.2", "abcdefghi"), ("A.3", "abcde"), ("A.4", "abcdefg"),
     ("A.5", "ab"), ("extra", "")],
)
def test_appendix_a_ids_per_group(group: str, letters: str) -> None:
    ids = [risk.id for risk in CATEGORIES.values() if risk.group == group]
    if group == "extra":
        assert ids == ["pii", "secrets", "prompt_injection"]
    else:
        assert ids == [f"{group}.{letter}" for letter in letters]


@pytest.mark.parametrize(
    ("cid", "name_zh"),
    [
        ("A.1.a", "煽动颠覆国家政权、推翻社会主义制度"),
        ("A.1.h", "其他法律、行政法规禁止的内容"),
        ("A.2.c", "国别歧视"),
        ("A.3.d", "利用算法、数据、平台等优势，实施垄断和不正当竞争行为"),
        ("A.4.f", "侵害他人个人信息权益"),
        ("A.5.b", "内容不可靠，虽然不包含严重错误的内容，但无法对使用者形成帮助"),
        ("prompt_injection", "提示词注入"),
    ],
)
def test_names_are_the_standards_wording(cid: str, name_zh: str) -> None:
    assert CATEGORIES[cid].name_zh == name_zh


def test_every_category_is_complete_and_keyed_by_its_id() -> None:
    assert len(CATEGORIES) == 34
    for cid, risk in CATEGORIES.items():
        assert isinstance(risk, Risk)
        assert risk.id == cid
        assert risk.group in GROUPS
        assert risk.name_zh and risk.name_en
    assert len({risk.name_en for risk in CATEGORIES.values()}) == 34


def test_categories_are_read_only() -> None:
    with pytest.raises(TypeError):
        CATEGORIES["new"] = Risk("new", "extra", "新", "New")  # type: ignore[index]


def test_minimums_follow_the_standard() -> None:
    assert MINIMUM_TERMS.total == 10_000
    assert {cid: n for cid, n in MINIMUM_TERMS.per_risk.items() if n == 200} == {
        f"A.1.{letter}": 200 for letter in "abcdefgh"
    }
    assert {cid: n for cid, n in MINIMUM_TERMS.per_risk.items() if n == 100} == {
        f"A.2.{letter}": 100 for letter in "abcdefghi"
    }
    assert len(MINIMUM_TERMS.per_risk) == 17


def _full() -> dict[str, int]:
    counts = dict(MINIMUM_TERMS.per_risk)
    counts["A.3.a"] = MINIMUM_TERMS.total - sum(counts.values())
    return counts


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, []),
        ({"A.1.a": 199}, ["A.1.a 煽动颠覆国家政权、推翻社会主义制度 (Inciting subversion of state "
                          "power or the overthrow of the socialist system): 199 terms, the "
                          "standard asks for at least 200 (short by 1)",
                          "keyword library: 9999 distinct terms in all, the standard asks for at least "
                          "10000 (short by 1)"]),
        ({"A.3.a": 0}, ["keyword library: 2500 distinct terms in all, the standard asks for at least "
                        "10000 (short by 7500)"]),
        ({"A.2.i": 5, "A.3.a": 20_000}, ["A.2.i 其他方面歧视 (Other discrimination): 5 terms, "
                                         "the standard asks for at least 100 (short by 95)"]),
        ({"A.9.z": 3}, ["unknown category 'A.9.z' (3 terms): not in the taxonomy, so not counted"]),
        # Terms of the extra categories are not part of the library the standard counts.
        ({"A.3.a": 0, "pii": 5000, "secrets": 2500}, ["keyword library: 2500 distinct terms in all, the standard "
                                                      "asks for at least 10000 (short by 7500)"]),
    ],
)
def test_coverage_warnings(change: dict[str, int], expected: list[str]) -> None:
    assert coverage_warnings({**_full(), **change}) == expected


def test_empty_library_warns_for_every_minimum() -> None:
    warnings = coverage_warnings({})
    assert len(warnings) == 17 + 1
    assert warnings[-1].startswith("keyword library: 0 distinct terms in all")


def test_taxonomy_md_lists_every_category_as_the_module_does() -> None:
    rows = re.findall(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$",
                      TAXONOMY_MD.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert [row[0] for row in rows] == list(CATEGORIES)
    for cid, name_zh, name_en, minimum in rows:
        risk = CATEGORIES[cid]
        assert (name_zh.strip(), name_en.strip()) == (risk.name_zh, risk.name_en)
        assert minimum.strip() == str(MINIMUM_TERMS.per_risk.get(cid, "—"))
