"""Load a policy file: validate, build every detector once, return an immutable `Policy`.

A reload passes the policy that is serving (`reuse`): a detector whose spec and input files are
byte for byte what they were is taken over as it is, not rebuilt. An operator who adds an
emergency term to a small lexicon of its own then waits for that lexicon alone, not for a
million-term automaton and Presidio's recognizers to be built again (nor holds two copies of
that automaton while the new policy is built). A keyword detector whose files only grew by
whole lines keeps its automaton too, with the new lines in a small one beside it
(`detectors.keyword_appends`): a term appended to the million-term file itself is live at once.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from policies.actions import RedactStyle
from policies.config import (
    DEFAULT_POLICY,
    KeywordsSpec,
    PatternsSpec,
    PiiSpec,
    PolicyError,
    PolicySpec,
    read_spec,
    resolve_path,
)
from policies.detectors import DETECTOR_TYPES, keyword_files
from policies.detectors.base import Detector
from policies.detectors.keyword_appends import MAX_APPENDED_LINES, AppendedKeywords
from policies.detectors.keywords import KeywordDetector, KnownKeyChanged
from policies.engine import Policy
from policies.findings import Action
from policies.lexicon import FileMark
from policies.taxonomy import CATEGORIES

log = logging.getLogger(__name__)


def load_policy(path: Path | str | None = None, reuse: Policy | None = None, require_salt: bool = True) -> Policy:
    """Compile the policy at `path` (the shipped default pack when None), taking over the
    detectors of `reuse` whose inputs have not changed. Without `require_salt` (a check run
    away from production) a hash-style rule loads without its salt; see `missing_salt`.

    Raises `PolicyError` naming the file and the detector or rule at fault; nothing is left
    half-built, so a failed reload can keep the old policy serving.
    """
    path = Path(path) if path is not None else DEFAULT_POLICY
    read_stamps = list(file_stamps([path]))  # each file's, taken before it is read
    spec = read_spec(path)
    base_dir = path.parent
    categories = set(CATEGORIES)
    detectors: dict[str, Detector] = {}
    inputs: dict[str, DetectorInputs] = {}
    for name, detector_spec in spec.detectors.items():
        try:
            stamps = file_stamps(_files_of(detector_spec, base_dir))
            read_stamps.extend(stamps)
            inputs[name] = detector_inputs(detector_spec, base_dir)
            previous = reuse.inputs.get(name) if reuse is not None else None
            if reuse is not None and inputs[name] is not None and previous == inputs[name]:
                detectors[name] = reuse.detectors[name]
                continue
            layered = None
            if reuse is not None and isinstance(detector_spec, KeywordsSpec):
                layered = _with_appended_lines(reuse.detectors.get(name), previous, inputs[name], base_dir, categories)
            detectors[name] = layered if layered is not None else DETECTOR_TYPES[detector_spec.type](
                name, detector_spec, base_dir, categories
            )
            if inputs[name] is not None and (
                detector_inputs(detector_spec, base_dir) != inputs[name]
                or file_stamps(_files_of(detector_spec, base_dir)) != stamps
            ):
                # A file changed while it was read (a lexicon being written, even back to the
                # same bytes): what was built matches no state of it, so the next reload builds
                # it whole (and comes soon: `Policy.read_stamps` hold the stamps from before).
                inputs[name] = None
        except PolicyError:
            raise
        except (ValueError, OSError) as exc:
            raise PolicyError(f"{path}: detector {name!r}: {exc}") from None
    salt = os.environ.get(spec.hash_salt_env, "").encode("utf-8")
    problem = missing_salt(spec, salt)
    if problem and require_salt:
        raise PolicyError(f"{path}: {problem}")
    return Policy(spec, detectors, files=[path, *_referenced_files(spec, base_dir)], salt=salt, inputs=inputs,
                  read_stamps=tuple(read_stamps))


FileStamp = tuple[str, int, int]


def file_stamps(paths: Iterable[Path]) -> tuple[FileStamp, ...]:
    """Path, modification time and size of each file ((path, -1, -1) if it cannot be read): what
    tells a hot reload that a file changed, even back to the same bytes."""
    stamps = []
    for path in paths:
        try:
            stat = path.stat()
            stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
        except (OSError, ValueError):  # ValueError: a NUL in the path
            stamps.append((str(path), -1, -1))
    return tuple(stamps)


def missing_salt(spec: PolicySpec, salt: bytes) -> str | None:
    """Why the policy cannot redact as it says without a salt, if it cannot: without a key,
    anyone can hash every mobile number and read the redacted ones back."""
    hashing = [rule.id for rule in (*spec.prompt, *spec.completion)
               if rule.action is Action.REDACT and rule.style is RedactStyle.HASH]
    if not hashing or salt:
        return None
    return (f"rule {hashing[0]!r} redacts with style 'hash', but ${spec.hash_salt_env} is unset or empty; "
            "set it to a long random secret (for example `openssl rand -hex 32`) and keep it private")


def detector_inputs(spec: object, base_dir: Path) -> DetectorInputs:
    """Everything a detector is built from: its spec, and the state of each file it reads.
    None where that is not all (an NER model lives outside the policy's files): such a
    detector is always rebuilt."""
    if isinstance(spec, PiiSpec):
        return (spec, ())
    if isinstance(spec, KeywordsSpec | PatternsSpec):
        return (spec, tuple(_file_state(path) for path in _files_of(spec, base_dir)))
    return None


class FileState(NamedTuple):
    """A file's path, SHA-256, size in bytes and number of line breaks."""

    path: str
    sha256: str
    size: int
    lines: int


DetectorInputs = tuple[object, tuple[FileState, ...]] | None


def _file_state(path: Path) -> FileState:
    digest, size, lines = hashlib.sha256(), 0, 0
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found; fix the path (it is relative to the policy file), "
                                "or prefix a shipped file with 'pack:'")
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
            lines += block.count(b"\n")
    return FileState(str(path), digest.hexdigest(), size, lines)


def _with_appended_lines(
    previous: Detector | None,
    built_from: object,
    inputs: DetectorInputs,
    base_dir: Path,
    categories: set[str],
) -> AppendedKeywords | None:
    """The serving keyword detector with the lines appended to its files since, when its spec
    is the same and every file that changed only grew by whole lines; else None (build it)."""
    if not isinstance(built_from, tuple) or inputs is None or built_from[0] != inputs[0]:
        return None
    spec = inputs[0]
    assert isinstance(spec, KeywordsSpec)
    old_files: tuple[FileState, ...] = built_from[1]
    new_files = inputs[1]
    if [f.path for f in old_files] != [f.path for f in new_files]:
        return None
    if isinstance(previous, AppendedKeywords):
        base, marks = previous.base, previous.marks
    elif isinstance(previous, KeywordDetector):
        base, marks = previous, tuple(FileMark(f.size, f.lines) for f in old_files)
    else:
        return None
    if not all(new == old or _grew_by_lines(old) for old, new in zip(old_files, new_files, strict=True)):
        return None
    if sum(new.lines - mark.lines for new, mark in zip(new_files, marks, strict=True)) > MAX_APPENDED_LINES:
        return None
    try:
        layered = AppendedKeywords.build(base, marks, keyword_files(spec, base_dir), categories, spec.allowlist,
                                         spec.max_gap)
    except KnownKeyChanged:
        return None
    log.info("detector %r: %d appended terms live beside its automaton of %d, which is not rebuilt",
             base.name, layered.appended_terms, base.term_count)
    return layered


def _grew_by_lines(old: FileState) -> bool:
    """Whether the file at `old.path` still starts with exactly the bytes `old` describes, and
    those ended with a line break (or were empty): only whole lines were added after them."""
    digest, left = hashlib.sha256(), old.size
    with Path(old.path).open("rb") as file:
        while left:
            block = file.read(min(left, 1 << 20))
            if not block:
                return False
            digest.update(block)
            left -= len(block)
            last = block[-1:]
        grown = bool(file.read(1))
    return grown and digest.hexdigest() == old.sha256 and (old.size == 0 or last == b"\n")


def _files_of(spec: object, base_dir: Path) -> list[Path]:
    if isinstance(spec, KeywordsSpec):
        return [resolve_path(entry.path, base_dir) for entry in spec.files]
    if isinstance(spec, PatternsSpec):
        return [resolve_path(ref, base_dir) for ref in spec.files]
    return []


def policy_files(path: Path | str | None) -> list[Path]:
    """The policy file and every file it names, as far as it can be read: what a reload that
    failed must watch, since the fix may be in a file only the new policy names."""
    path = Path(path) if path is not None else DEFAULT_POLICY
    try:
        return [path, *_referenced_files(read_spec(path), path.parent)]
    except (PolicyError, OSError, ValueError):
        return [path]


def _referenced_files(spec: object, base_dir: Path) -> list[Path]:
    """Every lexicon and pattern file the policy reads: what a hot reload watches."""
    files: list[Path] = []
    for detector in getattr(spec, "detectors", {}).values():
        if isinstance(detector, KeywordsSpec | PatternsSpec):
            files.extend(_files_of(detector, base_dir))
    return files
