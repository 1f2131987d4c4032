"""Operator regexes, run with RE2 so that no pattern can take more than linear time.

A pattern pack is a YAML file of rules (see `load_pattern_file`). Every rule is checked and
compiled at load time; anything RE2 cannot run (lookaround, backreferences, possessive or
atomic groups) is a `PatternError` that names the file, the rule and the fix.

`PatternDetector.detect` first runs one `re2.Set` over the text, which says which rules can
match at all; only those rules then run `finditer` for their spans. On text with no hits
(the common case) that is a single linear DFA pass, whatever the number of rules.

Offsets are characters of the Python ``str``: the text is encoded to UTF-8 once, and RE2's byte
offsets are mapped back to characters (`utf8_text.Utf8Text`).
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policies.config import yaml_problem
from policies.detectors.utf8_text import Utf8Text
from policies.findings import Finding

MAX_RULE_CHARS = 4096
"""Upper bound on a rule's `max_chars`: the streaming scanner holds back that many chars."""

# DFA budget of the Set (RE2's default is 8 MiB). A Set scan never gives up when its state
# cache fills (RE2 flushes and carries on: it has no NFA to fall back to), and Compile()
# already fails if the budget cannot hold the DFA; so an empty Match result is always a real
# "no match". The budget only decides how often adversarial text forces a flush.
_SET_MAX_MEM = 16 << 20
_SURROGATES = re.compile("[\ud800-\udfff]")
_SYNTAX_URL = "https://github.com/google/re2/wiki/Syntax"


class PatternError(ValueError):
    """A pattern file or rule that cannot be loaded; the message says where and how to fix."""

    def __init__(self, problem: str, *, path: Path | None = None, rule_id: str | None = None,
                 line: int | None = None):
        where = [str(path) + (f":{line}" if line is not None else "")] if path is not None else []
        where += [f"rule {rule_id!r}"] if rule_id is not None else []
        super().__init__(": ".join([*where, problem]))
        self.problem = problem
        self.path = path
        self.rule_id = rule_id


@dataclass(frozen=True)
class PatternRule:
    """One operator regex. `max_chars` bounds the span of one match, in characters."""

    id: str
    regex: str
    kind: str
    category: str
    score: float = 1.0
    max_chars: int = 256
    case_insensitive: bool = False


_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"


class _RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = Field(pattern=_NAME)
    regex: str = Field(min_length=1)
    kind: str = Field(pattern=_NAME)
    category: str = Field(min_length=1)
    score: float = Field(default=1.0, ge=0.0, le=1.0)
    max_chars: int = Field(default=256, ge=1, le=MAX_RULE_CHARS)
    case_insensitive: bool = False
    description: str = ""


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    category: str | None = None
    rules: list[Any] = Field(min_length=1)


_RULE_FIELDS = ", ".join(_RuleModel.model_fields)


def load_pattern_file(
    path: Path, allowed_categories: set[str] | None = None
) -> list[PatternRule]:
    """Read, validate and check-compile one pattern pack.

    Every rule must compile under RE2, must not match the empty string and, where its
    longest match can be worked out, must fit in its `max_chars`. A rule's `category`
    defaults to the file's and must be in `allowed_categories` when that is given.
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise PatternError(f"cannot read pattern file: {yaml_problem(exc)}", path=path) from None
    try:
        pack = _FileModel.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise PatternError(_describe(exc, "top-level keys are category, rules"), path=path) from exc
    rules: list[PatternRule] = []
    seen: set[str] = set()
    lines = _rule_lines(text)
    for number, item in enumerate(pack.rules, start=1):
        try:
            rule = _validate_rule(item, number, pack.category, path)
            if rule.id in seen:
                raise PatternError("duplicate rule id; fix: give each rule its own id",
                                   path=path, rule_id=rule.id)
            if allowed_categories is not None and rule.category not in allowed_categories:
                raise PatternError(
                    f"unknown category {rule.category!r}; fix: use one of "
                    f"{', '.join(sorted(allowed_categories))} (see policies/packs/TAXONOMY.md)",
                    path=path, rule_id=rule.id,
                )
            seen.add(rule.id)
            _compile(rule, path)
            _check_width(rule, path)
        except PatternError as exc:  # said again with the line the rule starts on (review)
            raise PatternError(exc.problem, path=path, rule_id=exc.rule_id, line=lines.get(number)) from None
        rules.append(rule)
    return rules


def _rule_lines(text: str) -> dict[int, int]:
    """The line each rule (numbered from 1) starts on in a pattern file's `text`; empty when the
    file's shape is not a mapping with a `rules` list (validation says so first)."""
    try:
        root = yaml.compose(text)
    except (yaml.YAMLError, RecursionError):
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if key.value == "rules" and isinstance(value, yaml.SequenceNode):
            return {number: node.start_mark.line + 1 for number, node in enumerate(value.value, start=1)}
    return {}


def _validate_rule(item: Any, number: int, category: str | None, path: Path) -> PatternRule:
    rule_id = item.get("id") if isinstance(item, dict) else None
    label = rule_id if isinstance(rule_id, str) else f"#{number} (no id)"
    if not isinstance(item, dict):
        raise PatternError("a rule must be a mapping of id, regex, kind, ...",
                           path=path, rule_id=label)
    if category is not None:
        item = {"category": category, **item}
    try:
        model = _RuleModel.model_validate(item)
    except ValidationError as exc:
        raise PatternError(_describe(exc, f"rule keys are {_RULE_FIELDS}"),
                           path=path, rule_id=label) from exc
    return PatternRule(
        id=model.id, regex=model.regex, kind=model.kind, category=model.category,
        score=model.score, max_chars=model.max_chars, case_insensitive=model.case_insensitive,
    )


def _describe(exc: ValidationError, allowed: str) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(file)"
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {where!r}; fix: remove it ({allowed})")
        elif error["type"] == "missing":
            problems.append(f"missing key {where!r}; fix: add it")
        else:
            problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def _options(case_insensitive: bool = False, max_mem: int | None = None) -> Any:
    options = re2.Options()
    options.log_errors = False  # errors become PatternError; RE2 need not print them too
    options.never_capture = True  # only the whole span is used; lets RE2 stay on its DFA
    options.case_sensitive = not case_insensitive
    if max_mem is not None:
        options.max_mem = max_mem
    return options


def _compile(rule: PatternRule, path: Path | None = None) -> Any:
    try:
        regex = re2.compile(rule.regex, _options(rule.case_insensitive))
    except re2.error as exc:
        reason = _reason(exc)
        raise PatternError(f"RE2 cannot compile the regex ({_without_text(reason)}); fix: {_fix_for(reason)}",
                           path=path, rule_id=rule.id) from None
    if regex.fullmatch("") is not None:
        raise PatternError("the regex matches the empty string; fix: require at least one "
                           "character (use + or {1,n} rather than * or ?)",
                           path=path, rule_id=rule.id)
    return regex


def _reason(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else ""
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _without_text(reason: str) -> str:
    """RE2's reason without the part of the regex it quotes (`missing ): 炸药配方(制作)`), which
    may be banned text and must not reach a log; a short ASCII operator (`(?=`, `\\1`) stays."""
    kind, _, quoted = reason.partition(": ")
    return reason if quoted.isascii() and len(quoted) <= 4 else kind


def _fix_for(reason: str) -> str:
    if any(op in reason for op in ("(?=", "(?!", "(?<=", "(?<!")):
        return ("RE2 has no lookaround; match the context as part of the span, "
                "or split the rule in two")
    if "(?>" in reason or "++" in reason or "*+" in reason or "?+" in reason:
        return "RE2 has no atomic groups or possessive quantifiers, and needs none; drop them"
    if re.search(r"escape sequence: \\+[1-9]", reason):
        return "RE2 has no backreferences; spell out the alternatives the group can take"
    if "\\Z" in reason:
        return r"write \z (end of text) instead of \Z"
    if "repetition size" in reason:
        return "RE2 caps {n,m} at 1000; use a smaller bound"
    return f"see {_SYNTAX_URL}"


def _check_width(rule: PatternRule, path: Path | None) -> None:
    """Reject a rule whose longest match provably exceeds its `max_chars`.

    RE2 does not expose the parse tree, so the bound comes from Python's own regex parser on
    a lightly translated copy. When that parser cannot read the pattern (RE2-only syntax),
    the bound is unchecked, and `detect` reports a longer match anyway rather than drop it.
    """
    longest = _longest_match(rule.regex)
    if longest is not None and longest > rule.max_chars:
        bound = "any length" if longest >= _UNBOUNDED else f"up to {longest} characters"
        raise PatternError(
            f"the regex matches {bound} but max_chars is {rule.max_chars}; fix: bound every "
            "repeat (e.g. {1,64} instead of +, .{0,40} instead of .*) or raise max_chars",
            path=path, rule_id=rule.id,
        )


_UNBOUNDED = 1 << 31
_RE2_ONLY = re.compile(r"\\\\|\\[pP](?:\{[^}]*\}|[A-Za-z])|\\[Cz]")


def _longest_match(regex: str) -> int | None:
    """Longest match of `regex` in characters, `_UNBOUNDED` or more if unbounded, or None."""

    def translate(found: re.Match[str]) -> str:
        token = found.group()
        if token == "\\\\":
            return token
        return r"\Z" if token == r"\z" else "."  # a Unicode class or \C is one character

    try:
        parser = importlib.import_module("re._parser")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. FutureWarning on RE2's [[:alpha:]]
            _, longest = parser.parse(_RE2_ONLY.sub(translate, regex)).getwidth()
    except Exception:  # any parse failure just means: bound not known
        return None
    return int(longest)


def _prefilter(name: str, rules: Sequence[PatternRule]) -> Any:
    """One `re2.Set` of every rule: a single pass says which rules match somewhere."""
    prefilter = re2.Set.SearchSet(_options(max_mem=_SET_MAX_MEM))
    try:
        for index, rule in enumerate(rules):
            # The Set has one set of options, so case folding is carried inline.
            added = prefilter.Add(f"(?i:{rule.regex})" if rule.case_insensitive else rule.regex)
            assert added == index, "re2.Set numbers patterns in the order they are added"
        prefilter.Compile()
    except re2.error as exc:
        raise PatternError(f"pattern detector {name!r}: RE2 cannot build the rule set "
                           f"({_reason(exc)}); fix: split the rules over two detectors") from exc
    return prefilter


@dataclass(frozen=True)
class _Compiled:
    rule: PatternRule
    regex: Any


class PatternDetector:
    """Finds operator regexes in text; compiled once, then shared by every request."""

    def __init__(self, name: str, rules: Sequence[PatternRule]) -> None:
        if not rules:
            raise PatternError(f"pattern detector {name!r} has no rules")
        duplicates = sorted(i for i, n in Counter(rule.id for rule in rules).items() if n > 1)
        if duplicates:
            raise PatternError(f"pattern detector {name!r}: duplicate rule ids {duplicates}")
        self.name = name
        self.max_match_chars = max(rule.max_chars for rule in rules)
        self._compiled = tuple(_Compiled(rule, _compile(rule)) for rule in rules)
        self._prefilter = _prefilter(name, rules)

    def max_chars_for(self, kinds: frozenset[str] | None) -> int:
        """The longest match of the rules whose kind is in `kinds` (any rule when None)."""
        if kinds is None:
            return self.max_match_chars
        return max((c.rule.max_chars for c in self._compiled if c.rule.kind in kinds), default=0)

    def detect(self, text: str) -> list[Finding]:
        """Every match of every rule, as findings sorted by (start, end, rule)."""
        if not text:
            return []
        try:
            source = Utf8Text(text)
        except UnicodeEncodeError:
            # Lone surrogates (legal in a JSON string) cannot go to RE2; U+FFFD keeps offsets.
            source = Utf8Text(_SURROGATES.sub("\ufffd", text))
        hits = self._prefilter.Match(source.data)
        if not hits:
            return []
        findings = []
        for index in hits:
            rule = self._compiled[index].rule
            for start, end in source.spans(self._compiled[index].regex):
                if start < end:
                    findings.append(Finding(self.name, rule.kind, rule.category,
                                            start, end, rule.score, rule.id))
        findings.sort(key=lambda finding: (finding.start, finding.end, finding.rule))
        return findings
