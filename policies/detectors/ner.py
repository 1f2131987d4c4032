"""Names, places and organisations from a spaCy model that the operator installed.

Opt-in: the default policy needs no model, and nothing here downloads one. A policy names the
model (`{type: ner, model: en_core_web_sm, entities: [PERSON, LOCATION]}`): an installed spaCy
package, or a directory saved with `nlp.to_disk()` (relative to the policy file). It is loaded
once, when the policy loads; a missing package fails the load with the `pip install` to run.

Labels become Presidio's entity names as Presidio's `SpacyRecognizer` maps them (PERSON <-
PERSON/PER, LOCATION <- GPE/LOC/FAC, ORGANIZATION <- ORG, NRP <- NORP, DATE_TIME <- DATE/TIME),
and every entity scores 0.85, Presidio's `ner_strength`: spaCy's NER gives no confidence.
The model reads the light view of the text (see `policies.normalize.light_view`), so
full-width letters and zero-width characters inside a name do not hide it.

Unlike a pattern, an entity is recognized from the words around it, so `max_chars` (the
stream hold-back) is a sentence bound, not the length of a name.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from presidio_analyzer.nlp_engine.ner_model_configuration import MODEL_TO_PRESIDIO_ENTITY_MAPPING

from policies.findings import Finding
from policies.light_view import light_view

#: spaCy label -> Presidio entity. FAC (buildings, airports) is a place, as in the issue.
LABELS: dict[str, str] = {**MODEL_TO_PRESIDIO_ENTITY_MAPPING, "FAC": "LOCATION"}
ENTITIES = frozenset(LABELS.values())
#: Presidio's `SpacyRecognizer.ner_strength`: the score of every entity.
NER_SCORE = 0.85
#: Texts longer than this go through the model in pieces (spaCy refuses texts over
#: `nlp.max_length`, and memory grows with the text), overlapping by `max_chars`.
CHUNK_CHARS = 100_000
#: Components that do not help find entities: skipped to save time (the parser is the
#: slowest). Taggers stay: an entity_ruler's patterns may use POS tags.
_UNNEEDED_PIPES = ("parser", "lemmatizer", "textcat", "textcat_multilabel")
_ENTITY_FACTORIES = frozenset({"ner", "beam_ner", "entity_ruler"})


def load_model(reference: str, base_dir: Path) -> Any:
    """Load the spaCy pipeline a policy names; a `ValueError` that says how to fix it if not.

    A reference with a path separator (or starting with `.`) is a directory relative to the
    policy file; anything else is an installed package, never looked up on disk or online.
    """
    try:
        import spacy
        from spacy.util import is_package
    except ImportError:
        raise ValueError("the ner detector needs spaCy; fix: pip install spacy") from None
    if "/" in reference or "\\" in reference or reference.startswith("."):
        path = Path(reference) if Path(reference).is_absolute() else base_dir / reference
        if not (path / "config.cfg").is_file():
            raise ValueError(
                f"spaCy model directory {str(path)!r} not found (no config.cfg); "
                "fix: save one with nlp.to_disk(), or name an installed package"
            )
        source: str | Path = path
    elif not is_package(reference):
        raise ValueError(
            f"spaCy model {reference!r} is not installed; fix: pip install {reference} "
            "(python -m spacy info lists installed models); models are never downloaded"
        )
    else:
        source = reference
    try:
        nlp = spacy.load(source)
    except Exception as exc:  # spaCy raises many kinds (OSError, config errors, version checks)
        raise ValueError(f"cannot load spaCy model {reference!r}: {exc}") from None
    if _ENTITY_FACTORIES.isdisjoint(nlp.pipe_factories.values()):
        raise ValueError(
            f"spaCy model {reference!r} has no ner or entity_ruler component (its pipeline: "
            f"{nlp.pipe_names}); fix: name a model that finds entities"
        )
    for pipe in _UNNEEDED_PIPES:
        if pipe in nlp.pipe_names:
            nlp.disable_pipe(pipe)
    return nlp


class NerDetector:
    """Entities of the chosen kinds from one spaCy pipeline; built once, shared by requests.

    spaCy adds unseen words to the pipeline's vocabulary while it reads, so calls are
    serialized by a lock: one detector must be safe to call from several threads.
    """

    def __init__(
        self,
        name: str,
        nlp: Any,
        entities: Sequence[str],
        score_threshold: float = NER_SCORE,
        max_chars: int = 256,
    ) -> None:
        unknown = sorted(set(entities) - ENTITIES)
        if unknown:
            raise ValueError(f"unknown entities {unknown}; known: {sorted(ENTITIES)}")
        if score_threshold > NER_SCORE:
            raise ValueError(
                f"score_threshold {score_threshold} would drop every entity: spaCy's NER "
                f"gives no confidence, so each scores {NER_SCORE}; fix: use {NER_SCORE} or less"
            )
        self.name = name
        self.entities = tuple(entities)
        self.max_match_chars = max_chars
        self._labels = frozenset(label for label, entity in LABELS.items() if entity in set(entities))
        self._nlp = nlp
        self._lock = threading.Lock()

    def hold_from(self, text: str) -> int:
        """For streaming, release whole sentences only: an entity is recognized from the words
        around it, so everything after the last sentence end is held back. The scanner bounds
        what may pile up (`stream.max_pending_chars`, then `stream.on_overflow`)."""
        return last_sentence_end(text)

    def max_chars_for(self, kinds: frozenset[str] | None) -> int:
        """The sentence bound, for any of this detector's entities."""
        return self.max_match_chars if kinds is None or not kinds.isdisjoint(self.entities) else 0

    def detect(self, text: str) -> list[Finding]:
        if not text.strip():
            return []
        view = light_view(text)
        spans: set[tuple[int, int, str]] = set()
        for offset, chunk in _chunks(view.text, CHUNK_CHARS, self.max_match_chars):
            with self._lock:
                doc = self._nlp(chunk)
            spans.update(self._spans(doc.ents, offset))
        findings = []
        for start, end, label in sorted(spans):
            start, end = view.original_span(start, end)
            entity = LABELS[label]
            findings.append(Finding(self.name, entity, "pii", start, end, NER_SCORE, f"{self.name}.{entity}"))
        return findings

    def _spans(self, ents: Iterable[Any], offset: int) -> Iterator[tuple[int, int, str]]:
        for ent in ents:
            if ent.label_ in self._labels and 0 < ent.end_char - ent.start_char <= self.max_match_chars:
                yield ent.start_char + offset, ent.end_char + offset, ent.label_


#: Sentence ends: CJK ones and line breaks always; ASCII ones when whitespace follows
#: (so "3.14" or "e.g.x" do not end a sentence).
_CJK_SENTENCE_ENDS = "。！？；…\n"
_ASCII_SENTENCE_ENDS = ".!?;"


def last_sentence_end(text: str) -> int:
    """Index just after the last sentence end in `text` (0 when there is none)."""
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch in _CJK_SENTENCE_ENDS:
            return i + 1
        if ch in _ASCII_SENTENCE_ENDS and i + 1 < len(text) and text[i + 1].isspace():
            return i + 1
    return 0


def _chunks(text: str, size: int, overlap: int) -> Iterator[tuple[int, str]]:
    """`text` in pieces of `size` characters, each overlapping the previous by `overlap`, so an
    entity cut by one boundary lies whole inside the next piece."""
    start = 0
    while True:
        yield start, text[start : start + size]
        if start + size >= len(text):
            return
        start += size - overlap
