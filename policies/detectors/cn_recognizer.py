"""The base of the Chinese identifier recognizers: patterns from class attributes, validation
hooks, and context words scored on characters.

Presidio's own context enhancer works on NLP tokens, and an English tokenizer sees
`我的身份证号是…` as one token; here a context word counts when it is found within
`CONTEXT_BEFORE` characters before a match or `CONTEXT_AFTER` after it, in Simplified or
Traditional characters (`ContextLexicon`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from policies.detectors.context_words import ContextLexicon, ContextWords, other_names

if TYPE_CHECKING:
    from presidio_analyzer.nlp_engine import NlpArtifacts

# Characters searched for context words before and after a match. English puts more words
# between them ("my passport number is E12345678") than Chinese does ("护照号E12345678").
CONTEXT_BEFORE = 32
CONTEXT_AFTER = 16
# Added to the score of a match with a context word nearby (capped at 1.0).
CONTEXT_BOOST = 0.4
# A match that a phrase about something else names (`NAMED_ELSE`) takes no context word, and
# unless its own checks score it `STRONG_SCORE` or more it loses `NAMED_ELSE_PENALTY`: an order
# number that merely looks like a card (0.1-0.35) or a legacy ID's shape (0.5, an IMEI's too)
# no longer reaches the default threshold, while a UnionPay number that passes Luhn (0.85) or
# an ID with a valid check digit (1.0) still does, whatever is written before it (review: a
# naming phrase must not hide a real one).
NAMED_ELSE_PENALTY = 0.4
STRONG_SCORE = 0.85


def named_else_score(score: float) -> float:
    """The score of a match named as something else (no context word counts for it)."""
    return score if score >= STRONG_SCORE else score - NAMED_ELSE_PENALTY

PatternSpec = tuple[str, str, float]
_BOOSTED_KEY = RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY


class ChineseIdRecognizer(PatternRecognizer):
    """Shared behaviour: patterns from class attributes, score tuning, character context.

    Subclasses set `ENTITY`, `PATTERNS` (name, regex, base score), `CONTEXT` and maybe
    `NAMED_ELSE` (names of other things their numbers may be: `订单号`, `IMEI`; those holding a
    context word of their own are skipped), and override `validate_result` /
    `invalidate_result` (called by Presidio once per match) and, when a yes/no check is not
    enough, `adjusted_score`.
    """

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[tuple[PatternSpec, ...]]
    CONTEXT: ClassVar[tuple[str, ...]]
    NAMED_ELSE: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            patterns=[Pattern(name, regex, score) for name, regex, score in self.PATTERNS],
            context=list(self.CONTEXT),
            supported_language="en",
        )
        # Presidio compiles patterns on first use; do it at load time, not on a request.
        super().analyze("", [self.ENTITY])
        self._context = ContextLexicon(self.CONTEXT)
        names = other_names(self.NAMED_ELSE, self.CONTEXT)
        self._named_else = ContextWords((), names) if names else None

    def adjusted_score(self, matched: str, score: float) -> float:
        """The score after Presidio's validation; a hook for graded checks (bank cards)."""
        return score

    def context_word(self, text: str, start: int, end: int) -> str | None:
        """A context word within `CONTEXT_BEFORE` characters before `text[start:end]` or
        `CONTEXT_AFTER` after it, if any (as listed; it may be written in Traditional)."""
        before = self._context.find(text, max(0, start - CONTEXT_BEFORE), start)
        return before if before is not None else self._context.find(text, end, end + CONTEXT_AFTER)

    def named_else(self, text: str, start: int, end: int) -> bool:
        """Whether a phrase about something else names the match `text[start:end]` (`订单号 `)."""
        return self._named_else is not None and self._named_else.names_else(text, start)

    def supporting_word(self, text: str, start: int, end: int) -> str | None:
        """The context word that raises the match's score, if one does."""
        return None if self.named_else(text, start, end) else self.context_word(text, start, end)

    def rescore(self, text: str, start: int, end: int, score: float) -> float:
        """The score after Presidio's validation: `adjusted_score`, then the context boost, or
        for a match named as something else none, and a penalty unless its checks are strong."""
        score = self.adjusted_score(text[start:end], score)
        if score <= 0:
            return score
        if self.named_else(text, start, end):
            return named_else_score(score)
        if self.context_word(text, start, end) is not None:
            score = min(EntityRecognizer.MAX_SCORE, score + CONTEXT_BOOST)
        return score

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: NlpArtifacts | None = None,
        regex_flags: int | None = None,
    ) -> list[RecognizerResult]:
        """Presidio's pattern matching and validation, then `rescore` on each result.

        Boosted results carry `is_score_enhanced_by_context` so Presidio's own enhancer does
        not boost them a second time inside an `AnalyzerEngine`; callers with a context step
        of their own should skip these recognizers (or results carrying that flag).
        """
        kept: list[RecognizerResult] = []
        for result in super().analyze(text, entities, nlp_artifacts, regex_flags):
            score = self.rescore(text, result.start, result.end, result.score)
            word = self.supporting_word(text, result.start, result.end) if score > 0 else None
            if word is not None:
                result.recognition_metadata[_BOOSTED_KEY] = True
                if result.analysis_explanation is not None:
                    result.analysis_explanation.set_supportive_context_word(word)
                    result.analysis_explanation.set_improved_score(score)
            result.score = score
            if score > 0:
                kept.append(result)
        results: list[RecognizerResult] = EntityRecognizer.remove_duplicates(kept)
        return results

    #: `analyze` adds nothing but `rescore`: `recognizer_spans` may run the patterns itself.
    analyze.rescores_only = True  # type: ignore[attr-defined]
