"""The detector types a policy can name, in one explicit registry (STYLE habit 2).

Each builder turns a validated spec into a compiled, immutable `Detector`. The order of the
detectors in a policy file is the order they run in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from policies.detectors.base import Detector

#: type name -> builder(detector name, spec, policy directory, allowed categories)
Builder = Callable[[str, Any, Path, set[str]], Detector]


def _build_pii(name: str, spec: Any, base_dir: Path, categories: set[str]) -> Detector:
    from policies.detectors.pii import PiiDetector
    from policies.detectors.pii_slots import default_slots

    slots = default_slots(spec.phone_regions)
    if spec.entities:
        known = {slot.entity for slot in slots}
        unknown = sorted(set(spec.entities) - known)
        if unknown:
            raise ValueError(f"unknown entities {unknown}; known: {sorted(known)}")  # the loader names the detector
        slots = [slot for slot in slots if slot.entity in set(spec.entities)]
    return PiiDetector(name, slots, spec.score_threshold, spec.context_window)


def _build_keywords(name: str, spec: Any, base_dir: Path, categories: set[str]) -> Detector:
    from policies.detectors.keywords import KeywordDetector

    return KeywordDetector.from_lexicons(
        name, keyword_files(spec, base_dir), categories, allowlist=spec.allowlist, max_gap=spec.max_gap
    )


def keyword_files(spec: Any, base_dir: Path) -> list[tuple[Path, str | None]]:
    """(path, file category) of each lexicon of a `keywords` spec."""
    from policies.config import resolve_path

    return [(resolve_path(entry.path, base_dir), entry.category) for entry in spec.files]


def _build_patterns(name: str, spec: Any, base_dir: Path, categories: set[str]) -> Detector:
    from policies.config import resolve_path
    from policies.detectors.patterns import PatternDetector, load_pattern_file

    rules = []
    for reference in spec.files:
        rules.extend(load_pattern_file(resolve_path(reference, base_dir), categories))
    return PatternDetector(name, rules)


def _build_ner(name: str, spec: Any, base_dir: Path, categories: set[str]) -> Detector:
    from policies.detectors.ner import NerDetector, load_model

    return NerDetector(name, load_model(spec.model, base_dir), spec.entities, spec.score_threshold, spec.max_chars)


DETECTOR_TYPES: dict[str, Builder] = {
    "pii": _build_pii,
    "keywords": _build_keywords,
    "patterns": _build_patterns,
    "ner": _build_ner,
}
