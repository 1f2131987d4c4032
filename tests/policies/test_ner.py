"""The optional NER detector, with real spaCy pipelines built here (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy

from policies.config import PolicyError
from policies.detectors import ner
from policies.detectors.base import Detector
from policies.detectors.ner import NerDetector, load_model
from policies.findings import Direction
from policies.loader import load_policy

PATTERNS = {
    "en": [
        {"label": "PERSON", "pattern": "Li Lei"},
        {"label": "PER", "pattern": "Han Meimei"},
        {"label": "GPE", "pattern": "Shanghai"},
        {"label": "LOC", "pattern": "Mount Tai"},
        {"label": "FAC", "pattern": "Pudong Airport"},
        {"label": "ORG", "pattern": [{"LOWER": "acme"}]},
    ],
    "zh": [{"label": "PERSON", "pattern": "李雷"}, {"label": "GPE", "pattern": "上海"}],
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with two saved pipelines: `nlp_en/` and `nlp_zh/` (blank + entity_ruler)."""
    root = tmp_path_factory.mktemp("models")
    for lang, patterns in PATTERNS.items():
        nlp = spacy.blank(lang)
        nlp.add_pipe("entity_ruler").add_patterns(patterns)
        nlp.to_disk(root / f"nlp_{lang}")
    return root


def write_policy(directory: Path, detector: str, rules: str = "") -> Path:
    path = directory / "policy.yaml"
    rules = rules or "  - {id: redact-names, detector: names, action: redact}\n"
    path.write_text(
        f"name: t\nversion: '1'\ndetectors:\n  names: {detector}\nprompt:\n{rules}completion:\n{rules}",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Li Lei flew from Pudong Airport to Shanghai.", "<PERSON> flew from <LOCATION> to <LOCATION>."),
        ("Han Meimei climbed Mount Tai for Acme.", "<PERSON> climbed <LOCATION> for Acme."),  # ORG not asked for
        ("Ｌｉ Ｌｅｉ lives in Shang\u200bhai.", "<PERSON> lives in <LOCATION>."),  # light view, original spans
        ("Nobody here.", "Nobody here."),
    ],
)
def test_names_and_places_are_redacted(models: Path, text: str, redacted: str) -> None:
    policy = load_policy(
        write_policy(models, "{type: ner, model: ./nlp_en, entities: [PERSON, LOCATION], score_threshold: 0.85}")
    )
    assert policy.evaluate(text, Direction.PROMPT).text == redacted


def test_chinese_pipeline(models: Path) -> None:
    policy = load_policy(write_policy(models, "{type: ner, model: nlp_zh/, entities: [PERSON, LOCATION]}"))
    assert policy.evaluate("李雷住在上海。", Direction.COMPLETION).text == "<PERSON>住在<LOCATION>。"


def test_findings(models: Path) -> None:
    detector = NerDetector("names", load_model("./nlp_en", models), ["PERSON", "ORGANIZATION"])
    assert isinstance(detector, Detector)
    findings = detector.detect("Li Lei works at ACME in Shanghai")
    assert [(f.kind, f.category, f.start, f.end, f.score, f.rule) for f in findings] == [
        ("PERSON", "pii", 0, 6, 0.85, "names.PERSON"),
        ("ORGANIZATION", "pii", 16, 20, 0.85, "names.ORGANIZATION"),
    ]


def test_hold_back_is_a_sentence_bound(models: Path) -> None:
    policy = load_policy(write_policy(models, "{type: ner, model: ./nlp_en, max_chars: 200}"))
    assert policy.hold_back_chars(Direction.PROMPT) == 199
    detector = policy.detectors["names"]
    assert isinstance(detector, NerDetector)
    assert detector.max_chars_for(frozenset({"PERSON", "URL"})) == 200
    assert detector.max_chars_for(frozenset({"URL"})) == 0


def test_long_texts_go_through_in_overlapping_pieces(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ner, "CHUNK_CHARS", 64)
    detector = NerDetector("names", load_model("./nlp_en", models), ["PERSON"], max_chars=16)
    text = "".join(f"{'x ' * n}Li Lei. " for n in range(1, 40))
    expected = [i for i in range(len(text)) if text.startswith("Li Lei", i)]
    assert [f.start for f in detector.detect(text)] == expected


@pytest.mark.parametrize(
    ("detector", "message"),
    [
        (
            "{type: ner, model: en_core_web_zz}",
            "detector 'names': spaCy model 'en_core_web_zz' is not installed; fix: pip install en_core_web_zz",
        ),
        ("{type: ner, model: ./missing_dir}", "missing_dir' not found"),
        ("{type: ner, model: ./nlp_en, entities: [PERSON, SPACESHIP]}", "unknown entities ['SPACESHIP']"),
        ("{type: ner, model: ./nlp_en, score_threshold: 0.9}", "would drop every entity"),
        ("{type: ner, model: ./nlp_en, download: true}", "download"),  # extra keys are refused
        ("{type: ner}", "detectors.names.ner.model"),
    ],
)
def test_bad_ner_detectors_name_the_detector_and_the_fix(models: Path, detector: str, message: str) -> None:
    path = write_policy(models, detector)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_a_pipeline_without_an_entity_recognizer_is_refused(tmp_path: Path) -> None:
    spacy.blank("en").to_disk(tmp_path / "empty")
    with pytest.raises(ValueError, match="no ner or entity_ruler"):
        load_model("./empty", tmp_path)


STREAM_TEXTS = [
    "Li Lei flew from Pudong Airport to Shanghai. Then Han Meimei climbed Mount Tai! Done.",
    "李雷住在上海。他很好。",
]


@pytest.mark.parametrize("text", STREAM_TEXTS)
def test_streams_release_whole_sentences_equal_to_the_whole_text(models: Path, text: str) -> None:
    from policies.streaming import StreamScanner

    lang = "zh" if "李" in text else "en"
    policy = load_policy(write_policy(models, f"{{type: ner, model: ./nlp_{lang}}}"))
    whole = policy.evaluate(text, Direction.COMPLETION).text
    for cut in range(len(text) + 1):
        scanner = StreamScanner(policy, Direction.COMPLETION)
        first = scanner.feed(text[:cut])
        out = first.text + scanner.feed(text[cut:]).text + scanner.flush().text
        assert out == whole, cut
        first_end = min(i for i, ch in enumerate(text) if ch in ".!。")
        if cut <= first_end:  # no sentence is complete yet: nothing may be released
            assert first.text == ""


@pytest.mark.parametrize(("on_overflow", "blocked"), [("block", True), ("release", False)])
def test_no_sentence_end_in_time_overflows_by_policy(models: Path, on_overflow: str, blocked: bool) -> None:
    from policies.streaming import StreamScanner

    path = write_policy(models, "{type: ner, model: ./nlp_en, max_chars: 64}")
    path.write_text(path.read_text(encoding="utf-8") + f"stream: {{max_pending_chars: 100, on_overflow: {on_overflow}}}\n",
                    encoding="utf-8")
    policy = load_policy(path)
    scanner = StreamScanner(policy, Direction.COMPLETION)
    releases = [scanner.feed("word ") for _ in range(40)]  # 200 characters, no sentence end
    assert any(r.overflow for r in releases)
    assert scanner.blocked is blocked
    if not blocked:
        assert sum(len(r.text) for r in releases) > 0 and scanner.pending_chars <= 100
