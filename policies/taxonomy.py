"""The risk taxonomy every rule, lexicon and pattern is tagged with.

The 31 risks are Appendix A of TC260-003 《生成式人工智能服务安全基本要求》, carried into
GB/T 45654-2025. Ids follow the appendix (``A.1.a`` is item a of A.1). Three extra
categories cover what the proxy also guards and the appendix does not name on its own:
``pii`` (a specific case of A.4.f), ``secrets`` and ``prompt_injection``.

`MINIMUM_TERMS` is the standard's keyword-library requirement: 10,000 terms in all, at least
200 for each A.1 risk and at least 100 for each A.2 risk. `coverage_warnings` checks a
count of terms per category against it; the human-readable table is
``policies/packs/TAXONOMY.md`` (a test keeps it in step with this module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Risk:
    """One category: ``id`` such as ``A.1.a``, its ``group`` (``A.1`` … ``A.5``, or ``extra``)."""

    id: str
    group: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class RiskGroup:
    id: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class TermMinimums:
    """Keyword-library minimums: ``total`` terms overall, ``per_risk`` for the listed ids."""

    total: int
    per_risk: Mapping[str, int]


EXTRA_GROUP = "extra"

GROUPS: Mapping[str, RiskGroup] = MappingProxyType(
    {
        group.id: group
        for group in (
            RiskGroup(
                "A.1",
                "违反社会主义核心价值观的内容",
                "Content that violates the core socialist values",
            ),
            RiskGroup("A.2", "歧视性内容", "Discriminatory content"),
            RiskGroup("A.3", "商业违法违规", "Commercial violations of laws and regulations"),
            RiskGroup(
                "A.4", "侵犯他人合法权益", "Infringement of others' legitimate rights and interests"
            ),
            RiskGroup(
                "A.5",
                "无法满足特定服务类型的安全需求",
                "Failure to meet the security needs of specific service types",
            ),
            RiskGroup(EXTRA_GROUP, "附加类别", "Additional categories (not in Appendix A)"),
        )
    }
)

# (group, letter, Chinese name, English name), in the order of Appendix A. The Chinese names
# are the standard's own wording, full-width commas included (hence the noqa: RUF001).
_APPENDIX_A: tuple[tuple[str, str, str, str], ...] = (
    ("A.1", "a", "煽动颠覆国家政权、推翻社会主义制度",
     "Inciting subversion of state power or the overthrow of the socialist system"),
    ("A.1", "b", "危害国家安全和利益、损害国家形象",
     "Endangering national security and interests, or harming the national image"),
    ("A.1", "c", "煽动分裂国家、破坏国家统一和社会稳定",
     "Inciting secession, or undermining national unity and social stability"),
    ("A.1", "d", "宣扬恐怖主义、极端主义", "Promoting terrorism or extremism"),
    ("A.1", "e", "宣扬民族仇恨", "Promoting ethnic hatred"),
    ("A.1", "f", "宣扬暴力、淫秽色情", "Promoting violence, obscenity or pornography"),
    ("A.1", "g", "传播虚假有害信息", "Spreading false and harmful information"),
    ("A.1", "h", "其他法律、行政法规禁止的内容",
     "Other content prohibited by laws and administrative regulations"),
    ("A.2", "a", "民族歧视", "Ethnic discrimination"),
    ("A.2", "b", "信仰歧视", "Discrimination based on religious belief"),
    ("A.2", "c", "国别歧视", "Discrimination based on nationality"),
    ("A.2", "d", "地域歧视", "Regional discrimination"),
    ("A.2", "e", "性别歧视", "Gender discrimination"),
    ("A.2", "f", "年龄歧视", "Age discrimination"),
    ("A.2", "g", "职业歧视", "Occupational discrimination"),
    ("A.2", "h", "健康歧视", "Health discrimination"),
    ("A.2", "i", "其他方面歧视", "Other discrimination"),
    ("A.3", "a", "侵犯他人知识产权", "Infringing others' intellectual property rights"),
    ("A.3", "b", "违反商业道德", "Violating business ethics"),
    ("A.3", "c", "泄露他人商业秘密", "Disclosing others' trade secrets"),
    ("A.3", "d", "利用算法、数据、平台等优势，实施垄断和不正当竞争行为",
     "Using advantages in algorithms, data or platforms for monopolistic or unfair competition"),
    ("A.3", "e", "其他商业违法违规行为", "Other commercial violations of laws and regulations"),
    ("A.4", "a", "危害他人身心健康", "Endangering others' physical or mental health"),
    ("A.4", "b", "侵害他人肖像权", "Infringing others' portrait rights"),
    ("A.4", "c", "侵害他人名誉权", "Infringing others' reputation rights"),
    ("A.4", "d", "侵害他人荣誉权", "Infringing others' honour rights"),
    ("A.4", "e", "侵害他人隐私权", "Infringing others' privacy rights"),
    ("A.4", "f", "侵害他人个人信息权益",
     "Infringing others' personal information rights and interests"),
    ("A.4", "g", "侵犯他人其他合法权益",
     "Infringing others' other legitimate rights and interests"),
    ("A.5", "a", "内容不准确，严重不符合科学常识或主流认知",
     "Inaccurate content that seriously contradicts scientific common sense or mainstream views"),
    ("A.5", "b", "内容不可靠，虽然不包含严重错误的内容，但无法对使用者形成帮助",
     "Unreliable content that, while free of serious errors, cannot help the user"),
)

_EXTRAS: tuple[tuple[str, str, str], ...] = (
    ("pii", "个人信息", "Personal information (PII)"),
    ("secrets", "密钥与凭据", "Secrets and credentials"),
    ("prompt_injection", "提示词注入", "Prompt injection and jailbreak attempts"),
)

CATEGORIES: Mapping[str, Risk] = MappingProxyType(
    {
        **{f"{group}.{letter}": Risk(f"{group}.{letter}", group, zh, en)
           for group, letter, zh, en in _APPENDIX_A},
        **{cid: Risk(cid, EXTRA_GROUP, zh, en) for cid, zh, en in _EXTRAS},
    }
)

MINIMUM_TERMS = TermMinimums(
    total=10_000,
    per_risk=MappingProxyType(
        {
            risk.id: 200 if risk.group == "A.1" else 100
            for risk in CATEGORIES.values()
            if risk.group in ("A.1", "A.2")
        }
    ),
)


def coverage_warnings(counts: Mapping[str, int], library_terms: int | None = None) -> list[str]:
    """Warnings, one a line, for each keyword-library minimum that `counts` does not meet.

    `counts` maps a category id to its number of distinct terms; a missing id counts as 0.
    The total is `library_terms`, the distinct terms of the 31 risks of Appendix A, when given
    (a term listed under two risks is one term of the library), else the sum over them (`pii`,
    `secrets` and `prompt_injection` terms are not part of the library the standard counts).
    An id outside `CATEGORIES` is reported too, since its terms would be counted nowhere. An
    empty list means every minimum is met.
    """
    warnings = [
        f"unknown category {cid!r} ({count} terms): not in the taxonomy, so not counted"
        for cid, count in sorted(counts.items())
        if cid not in CATEGORIES
    ]
    for cid, minimum in MINIMUM_TERMS.per_risk.items():
        have = counts.get(cid, 0)
        if have < minimum:
            risk = CATEGORIES[cid]
            warnings.append(
                f"{cid} {risk.name_zh} ({risk.name_en}): {have} terms, "
                f"the standard asks for at least {minimum} (short by {minimum - have})"
            )
    total = library_terms if library_terms is not None else sum(
        count for cid, count in counts.items() if in_library(cid))
    if total < MINIMUM_TERMS.total:
        warnings.append(
            f"keyword library: {total} distinct terms in all, the standard asks for at least "
            f"{MINIMUM_TERMS.total} (short by {MINIMUM_TERMS.total - total})"
        )
    return warnings


def in_library(cid: str) -> bool:
    """Whether category `cid` is one of the 31 risks whose terms the standard's minimums count."""
    return cid in CATEGORIES and CATEGORIES[cid].group != EXTRA_GROUP
