"""Load a policy file: validate, build every detector once, return an immutable `Policy`.

A reload passes the policy that is serving (`reuse`): a detector whose spec and input files are
byte for byte what they were is taken over as it is, not rebuilt. An operator who adds an
emergency term to a small lexicon of its own then waits for that lexicon alone, not for a
million-term automaton and Presidio's recognizers to be built again (nor holds two copies of
that automaton while the new policy is built).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from policies.config import (
    DEFAULT_POLICY,
    KeywordsSpec,
    PatternsSpec,
    PiiSpec,
    PolicyError,
    read_spec,
    resolve_path,
)
from policies.detectors import DETECTOR_TYPES
from policies.detectors.base import Detector
from policies.engine import Policy
from policies.taxonomy import CATEGORIES


def load_policy(path: Path | str | None = None, reuse: Policy | None = None) -> Policy:
    """Compile the policy at `path` (the shipped default pack when None), taking over the
    detectors of `reuse` whose inputs have not changed.

    Raises `PolicyError` naming the file and the detector or rule at fault; nothing is left
    half-built, so a failed reload can keep the old policy serving.
    """
    path = Path(path) if path is not None else DEFAULT_POLICY
    spec = read_spec(path)
    base_dir = path.parent
    categories = set(CATEGORIES)
    detectors: dict[str, Detector] = {}
    inputs: dict[str, DetectorInputs] = {}
    for name, detector_spec in spec.detectors.items():
        try:
            inputs[name] = detector_inputs(detector_spec, base_dir)
            if reuse is not None and inputs[name] is not None and reuse.inputs.get(name) == inputs[name]:
                detectors[name] = reuse.detectors[name]
                continue
            detectors[name] = DETECTOR_TYPES[detector_spec.type](name, detector_spec, base_dir, categories)
        except PolicyError:
            raise
        except (ValueError, OSError) as exc:
            raise PolicyError(f"{path}: detector {name!r}: {exc}") from None
    salt = os.environ.get(spec.hash_salt_env, "").encode("utf-8")
    return Policy(spec, detectors, files=[path, *_referenced_files(spec, base_dir)], salt=salt, inputs=inputs)


def detector_inputs(spec: object, base_dir: Path) -> DetectorInputs:
    """Everything a detector is built from: its spec, and the path and SHA-256 of each file it
    reads. None where that is not all (an NER model lives outside the policy's files): such a
    detector is always rebuilt."""
    if isinstance(spec, PiiSpec):
        return (spec, ())
    if isinstance(spec, KeywordsSpec | PatternsSpec):
        return (spec, tuple((str(path), _sha256(path)) for path in _files_of(spec, base_dir)))
    return None


DetectorInputs = tuple[object, tuple[tuple[str, str], ...]] | None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files_of(spec: KeywordsSpec | PatternsSpec, base_dir: Path) -> list[Path]:
    if isinstance(spec, KeywordsSpec):
        return [resolve_path(entry.path, base_dir) for entry in spec.files]
    return [resolve_path(ref, base_dir) for ref in spec.files]


def _referenced_files(spec: object, base_dir: Path) -> list[Path]:
    """Every lexicon and pattern file the policy reads: what a hot reload watches."""
    files: list[Path] = []
    for detector in getattr(spec, "detectors", {}).values():
        if isinstance(detector, KeywordsSpec | PatternsSpec):
            files.extend(_files_of(detector, base_dir))
    return files
