"""Spellings of Chinese terms that only OpenCC's phrase conversion knows.

The fold reads Traditional characters one at a time (`normalize`), and most convert alone:
賭 is 赌 wherever it stands. Some do not: in 藉口 the 藉 is the Traditional form of 借, but
alone (狼藉) it is itself; in 反覆 覆 is 复, while 覆盖 keeps it. A text written so folds to
藉口, which a term 借口 never matches (review). OpenCC's phrase tables hold these cases, but
ship only as compiled `.ocd2` data that the `opencc` binding converts with and cannot list.

So each term is converted as a whole instead, at build time: Simplified to Traditional
(`s2t`, which writes 借口 as 藉口), and a term written in Traditional to Simplified (`t2s`,
which reads 沈淪 as 沉沦). Where the fold of the result differs from the term's key, that fold
is a further key of the same term: a *variant*, which matches and reports the term's category
but is not a term of its own (not counted, never a duplicate). Terms are converted in
batches, joined into one string per OpenCC call: 500,000 Chinese terms take about 0.4 s.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path

import opencc

from policies.normalize import fold

#: Emits a variant: (key, category, origin, line, apostrophe), as `KeyedLines.append` takes them.
Emit = Callable[[str, str | None, int, int, bool], None]

#: Joins a batch of terms for one OpenCC call: a private-use character, which neither OpenCC nor
#: the fold changes.
_JOIN = "\ue000"
#: Terms converted per OpenCC call.
BATCH = 50_000

_converters: dict[str, opencc.OpenCC] = {}
_lock = threading.Lock()  # one conversion at a time: reloads of several tenants may overlap


def _variants(config: str, keys: list[str], texts: list[str]) -> list[str]:
    """For each of `texts` (a spelling of the term whose folded key is in `keys`), its OpenCC
    `config` conversion as a variant key, or "" where there is none. One OpenCC call and one
    fold for all (one of each a text if a text holds the joiner itself).

    A variant differs from its key only where the conversion wrote a character that folds to
    itself, one standing for a different character in a phrase (藉 for 借 in 藉口, 覆 for 复 in
    反覆, 沉 for 沈 in 沉沦). Where it wrote one that folds to another character (鍊 folds to 炼,
    not back to 链), the fold would make a new word of the term (`金炼`, found in 冶金炼钢;
    review): no variant."""
    with _lock:
        converter = _converter(config)
        joined = converter.convert(_JOIN.join(texts))
    converted, folded = joined.split(_JOIN), fold(joined).split(_JOIN)
    if not len(converted) == len(folded) == len(texts):  # a text holds the joiner itself
        converted = [converter.convert(text) for text in texts]
        folded = [fold(text) for text in converted]
    variants = [""] * len(keys)
    for index, (key, variant) in enumerate(zip(keys, folded, strict=True)):
        if variant == key:  # nearly every term: nothing but its own spelling
            continue
        text = converted[index]
        if len(variant) == len(key) == len(text) and all(
                new == old or fold(written) == written for old, new, written in zip(key, variant, text, strict=True)):
            variants[index] = variant
    return variants


@functools.cache
def sensitive_characters() -> frozenset[str] | None:
    """The Simplified characters for which `s2t` may write a character that folds to itself
    (借 in 借口 -> 藉口, 复 in 反复 -> 反覆): only a term holding one can have a variant from
    `s2t`. Read off OpenCC's own data once (~0.1 s): every Traditional phrase and character
    its Simplified -> Traditional dictionaries can write, converted back by `t2s`, character by
    character. None (convert every term) if that data is not where the `opencc` package keeps it."""
    folder = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    try:
        texts = [text for name in ("STPhrases.ocd2", "STCharacters.ocd2")
                 for text in (folder / name).read_bytes().decode("utf-8", "replace").split("\x00")
                 if text and text.isprintable() and not text.isascii() and "\ufffd" not in text and _JOIN not in text]
    except OSError:
        return None
    joined = _JOIN.join(texts)
    with _lock:
        back = _converter("t2s").convert(joined).split(_JOIN)
    folded = fold(joined).split(_JOIN)
    if not texts or not len(back) == len(folded) == len(texts):
        return None
    return frozenset(
        simplified
        for text, converted, own in zip(texts, back, folded, strict=True)
        if len(text) == len(converted) == len(own)
        for simplified, written, folds_to in zip(converted, text, own, strict=True)
        if simplified != written and folds_to == written
    )


def _converter(config: str) -> opencc.OpenCC:
    """OpenCC's converter for `config`, made once (call with `_lock` held)."""
    converter = _converters.get(config)
    if converter is None:
        converter = _converters[config] = opencc.OpenCC(config)
    return converter


class PhraseVariants:
    """Collects terms with characters outside ASCII and emits their variants, a batch at a time."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._keys: list[str] = []
        self._terms: list[tuple[str | None, int, int, bool]] = []  # (category, origin, line, apostrophe)
        self._written: dict[int, str] = {}  # index -> the term as written, where that is not its key

    def add(self, written: str, key: str, category: str | None, origin: int, line: int, apostrophe: bool) -> None:
        """A term as written and its key. Nothing happens for an ASCII key (no Chinese in it), nor
        for a term written as its key without a character OpenCC may write in another's place
        (`sensitive_characters`): nearly all of them."""
        if key.isascii():
            return
        if written != key:
            self._written[len(self._keys)] = written
        elif (sensitive := sensitive_characters()) is not None and sensitive.isdisjoint(key):
            return
        self._keys.append(key)
        self._terms.append((category, origin, line, apostrophe))
        if len(self._keys) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Emit the variants of the terms collected so far."""
        keys, terms, written = self._keys, self._terms, self._written
        self._keys, self._terms, self._written = [], [], {}
        if not keys:
            return
        found = [(index, variant) for index, variant in enumerate(_variants("s2t", keys, keys)) if variant]
        if written:  # maybe in Traditional characters
            converted = _variants("t2s", [keys[index] for index in written], list(written.values()))
            found += [(index, variant) for index, variant in zip(written, converted, strict=True) if variant]
        for index, variant in found:
            self._emit(variant, *terms[index])
