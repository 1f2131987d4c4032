"""Policy files: YAML validated with pydantic, then compiled once into a `Policy`.

Errors name the file, the rule and the fix (STYLE habit 3); nothing is compiled per request.
Paths in a policy are relative to the policy file; `pack:` points into the shipped packs, so an
operator's policy can reuse `pack:patterns/secrets.yaml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from policies.actions import RedactStyle
from policies.findings import Action

PACKS_DIR = Path(__file__).parent / "packs"
DEFAULT_POLICY = PACKS_DIR / "default.yaml"


class PolicyError(ValueError):
    """A policy that cannot be loaded; the message says where and how to fix it."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PiiSpec(_Model):
    type: Literal["pii"]
    entities: list[str] | None = Field(None, description="Entity kinds to detect; all shipped ones when empty.")
    score_threshold: float = Field(0.5, ge=0.0, le=1.0)
    context_window: int = Field(24, ge=0, le=200)
    phone_regions: list[str] | None = Field(
        None, min_length=1,
        description="Regions (ISO 3166 codes) whose numbers PHONE_NUMBER finds written without +; "
        "Presidio's eight and CN when not given. Each costs up to ~30 µs per number it is asked about.",
    )

    @field_validator("phone_regions", mode="before")
    @classmethod
    def _regions_are_codes(cls, value: object) -> object:
        if isinstance(value, list) and any(isinstance(item, bool) for item in value):
            raise ValueError("phone_regions: YAML reads NO, YES, ON and OFF as true or false; quote them: \"NO\"")
        return value

    @model_validator(mode="after")
    def _known_phone_regions(self) -> PiiSpec:
        import phonenumbers

        unknown = sorted(set(self.phone_regions or ()) - phonenumbers.SUPPORTED_REGIONS)
        if unknown:
            raise ValueError(f"phone_regions: unknown region codes {unknown}; use ISO 3166 codes (GB, HK, MO, TW)")
        return self


class LexiconFileSpec(_Model):
    path: str
    category: str | None = None


class KeywordsSpec(_Model):
    type: Literal["keywords"]
    files: list[LexiconFileSpec] = Field(min_length=1)
    allowlist: list[str] = Field(default_factory=list)
    max_gap: int = Field(3, ge=0, le=16)


class PatternsSpec(_Model):
    type: Literal["patterns"]
    files: list[str] = Field(min_length=1)


class NerSpec(_Model):
    """Names and places from a spaCy model the operator installed; nothing is downloaded."""

    type: Literal["ner"]
    model: str = Field(
        min_length=1,
        description="An installed spaCy package (en_core_web_sm, zh_core_web_sm) or a directory "
        "saved with nlp.to_disk(), relative to the policy file.",
    )
    entities: list[str] = Field(default_factory=lambda: ["PERSON", "LOCATION"], min_length=1)
    score_threshold: float = Field(default=0.85, ge=0.0, le=1.0)
    max_chars: int = Field(default=256, ge=16, le=4096, description="Longest entity kept; the stream hold-back.")


DetectorSpec = Annotated[PiiSpec | KeywordsSpec | PatternsSpec | NerSpec, Field(discriminator="type")]


class RuleSpec(_Model):
    """Maps findings of one detector (optionally only some kinds or categories) to an action."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")
    detector: str
    action: Action
    kinds: list[str] | None = None
    categories: list[str] | None = None
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    style: RedactStyle = RedactStyle.TAG
    replacement: str = "[REDACTED]"


class StreamSpec(_Model):
    # `default=` by keyword: type checkers only see a default given that way.
    max_pending_chars: int = Field(default=4096, ge=64, le=1_000_000)
    # What a stream does when more than `max_pending_chars` wait (a sentence-scoped detector saw no
    # sentence end): stop it with content_filter (fail closed), or release all but the
    # detectors' longest match. Either way it is counted in guardrail_holdback_overflows_total.
    on_overflow: Literal["block", "release"] = "block"


class PolicySpec(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")
    version: str = Field(pattern=r"^[A-Za-z0-9_.:+\-]{1,64}$")
    refusal_message: str = "This content was blocked by the content policy."
    on_error: Literal["block", "allow"] = "block"
    hash_salt_env: str = "GUARDRAIL_HASH_SALT"
    detectors: dict[str, DetectorSpec]
    prompt: list[RuleSpec] = Field(default_factory=list)
    completion: list[RuleSpec] = Field(default_factory=list)
    stream: StreamSpec = StreamSpec()
    decision_cache: int = Field(
        4096, ge=0, le=1_000_000,
        description="Texts whose decision is remembered (by a keyed digest, never the text); 0 turns it off.",
    )

    @model_validator(mode="after")
    def _rules_refer_to_detectors(self) -> PolicySpec:
        seen: set[tuple[str, str]] = set()
        for direction, rules in (("prompt", self.prompt), ("completion", self.completion)):
            for rule in rules:
                if rule.detector not in self.detectors:
                    known = ", ".join(sorted(self.detectors)) or "none"
                    raise ValueError(
                        f"{direction} rule {rule.id!r} names detector {rule.detector!r}, which is not "
                        f"defined under 'detectors' (defined: {known})"
                    )
                if (rule.action is Action.REDACT and rule.style is RedactStyle.MASK
                        and isinstance(self.detectors[rule.detector], KeywordsSpec)):
                    raise ValueError(
                        f"{direction} rule {rule.id!r} redacts keyword findings with style 'mask', which keeps "
                        "the ends of a term readable (`c-a****-n-o`); use style 'tag', 'fixed' or 'hash'"
                    )
                if (direction, rule.id) in seen:
                    raise ValueError(f"{direction} rule id {rule.id!r} is used twice; rule ids must be unique")
                seen.add((direction, rule.id))
        return self


def resolve_path(reference: str, base_dir: Path) -> Path:
    """A path from a policy: `pack:` means the shipped packs, anything else is policy-relative."""
    if reference.startswith("pack:"):
        return PACKS_DIR / reference.removeprefix("pack:")
    path = Path(reference)
    return path if path.is_absolute() else base_dir / path


def read_spec(path: Path) -> PolicySpec:
    """Parse and validate one policy file; every failure becomes a `PolicyError` naming it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read policy YAML: {yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: a policy must be a YAML mapping with 'name', 'version' and 'detectors'")
    try:
        return PolicySpec.model_validate(raw)
    except ValidationError as exc:
        raise PolicyError(f"{path}: invalid policy:\n{_explain(exc)}") from None


def yaml_problem(exc: BaseException) -> str:
    """What is wrong with a YAML file, and where, without the text of the line: a file of
    patterns or phrases quotes banned text, which must not reach a log."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{exc.problem or exc.context or 'invalid YAML'}{where}"
    return str(exc)


def _explain(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  - at {where}: {error['msg']}")
    return "\n".join(lines)
