"""Load a policy file: validate, build every detector once, return an immutable `Policy`."""

from __future__ import annotations

import os
from pathlib import Path

from policies.config import (
    DEFAULT_POLICY,
    KeywordsSpec,
    PatternsSpec,
    PolicyError,
    read_spec,
    resolve_path,
)
from policies.detectors import DETECTOR_TYPES
from policies.detectors.base import Detector
from policies.engine import Policy
from policies.taxonomy import CATEGORIES


def load_policy(path: Path | str | None = None) -> Policy:
    """Compile the policy at `path` (the shipped default pack when None).

    Raises `PolicyError` naming the file and the detector or rule at fault; nothing is left
    half-built, so a failed reload can keep the old policy serving.
    """
    path = Path(path) if path is not None else DEFAULT_POLICY
    spec = read_spec(path)
    base_dir = path.parent
    categories = set(CATEGORIES)
    detectors: dict[str, Detector] = {}
    for name, detector_spec in spec.detectors.items():
        try:
            detectors[name] = DETECTOR_TYPES[detector_spec.type](name, detector_spec, base_dir, categories)
        except PolicyError:
            raise
        except (ValueError, OSError) as exc:
            raise PolicyError(f"{path}: detector {name!r}: {exc}") from None
    salt = os.environ.get(spec.hash_salt_env, "").encode("utf-8")
    return Policy(spec, detectors, files=[path, *_referenced_files(spec, base_dir)], salt=salt)


def _referenced_files(spec: object, base_dir: Path) -> list[Path]:
    """Every lexicon and pattern file the policy reads: what a hot reload watches."""
    files: list[Path] = []
    for detector in getattr(spec, "detectors", {}).values():
        if isinstance(detector, KeywordsSpec):
            files.extend(resolve_path(entry.path, base_dir) for entry in detector.files)
        elif isinstance(detector, PatternsSpec):
            files.extend(resolve_path(ref, base_dir) for ref in detector.files)
    return files
