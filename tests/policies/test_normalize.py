# Chinese test text uses full-width punctuation on purpose.
"""The fold keyword matching runs on, and the offset map back to the original text."""

from __future__ import annotations

import unicodedata

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.normalize import (
    OffsetMap,
    either_script,
    fold,
    fold_lengths,
    fold_with_offsets,
    is_invisible,
    is_latin_word_char,
    original_span,
    spellings,
    visible_separator_count,
    with_traditional_forms,
)

# Text made of the characters that matter here: letters of both scripts, separators,
# invisible characters and characters whose fold expands or changes.
_ALPHABET = "ab法轮功臺獨 .-\n\t\u200b\u200d\u202e\ufeff\u00ad\u0301ﬁßＳⓐ𝐛🅰½İ\U000e0041\U000f0000é"
mixed_text = st.text(alphabet=st.sampled_from(_ALPHABET) | st.characters(), max_size=300)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BadWord", "badword"),  # case
        ("ｂａｄｗｏｒｄ", "badword"),  # full width
        ("ＳＥＸ１２３", "sex123"),
        ("b.a.d w-o_r/d!", "badword"),  # punctuation and spaces
        ("法 轮 功", "法轮功"),
        ("法-轮-功", "法轮功"),
        ("法\n轮\r\n功", "法轮功"),  # line breaks
        ("法，轮。功！", "法轮功"),  # full-width punctuation
        ("法★轮♥功", "法轮功"),  # symbols
        ("臺獨", "台独"),  # Traditional -> Simplified
        ("法輪功", "法轮功"),
        ("網絡賭博", "网络赌博"),
        ("炸藥配方", "炸药配方"),
        ("bad\u200bword", "badword"),  # zero-width space
        ("bad\u200c\u200d\u2060\ufeffword", "badword"),  # ZWNJ, ZWJ, word joiner, BOM
        ("bad\u202eword\u202c", "badword"),  # bidi override and pop
        ("bad\u2066word\u2069", "badword"),  # bidi isolates
        ("bad\u00adword", "badword"),  # soft hyphen
        ("bad\U000e0041word", "badword"),  # tag character
        ("bad\u2065wo\ufff0rd\U000e0080", "badword"),  # unassigned but default-ignorable (sixth review)
        ("草泥⻢", "草泥马"),  # radical forms stand for their characters (sixth review)
        ("⻚岩 ⻔ ⻩色 ⻨", "页岩门黄色麦"),
        ("herøin ħeroin casɨno casıno ŁÓDŹ", "heroinheroincasinocasinolodz"),  # letters with a stroke
        ("bad\ufe0fword", "badword"),  # variation selector
        ("bad\u3164word", "badword"),  # Hangul filler
        ("badʼword", "badword"),  # modifier-letter apostrophe
        ("ﬁx", "fix"),  # ligature
        ("Straße", "strasse"),  # casefold expands
        ("ⓑⓐⓓ", "bad"),  # circled letters
        ("𝐛𝐚𝐝", "bad"),  # math bold
        ("🅱🅰🅳", "bad"),  # negative squared letters: only named, NFKC keeps them
        ("ʙᴀᴅ", "bad"),  # small capitals
        ("🇧🇦🇩", "bad"),  # regional indicators
        ("bádwörd", "badword"),  # precomposed accents
        ("ba\u0301dwo\u0308rd", "badword"),  # combining accents
        ("İstanbul", "istanbul"),
        ("Ⅻ ½", "xii12"),
        ("한국어", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"),  # Hangul as jamo: as NFD text is
        ("\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165", "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"),
        ("Ωμέγα", "ωμεγα"),  # other scripts stay, case folded
        ("", ""),
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_fold_is_idempotent_for_every_code_point() -> None:
    every = "".join(chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF)
    once = fold(every)
    assert fold(once) == once


def test_traditional_to_simplified_comes_from_opencc() -> None:
    converter = opencc.OpenCC("t2s")
    # Characters OpenCC changes on their own fold to what OpenCC makes of them.
    for ch in "臺獨輪網絡賭藥發機學習語處應關於們為個這會說對時":
        simplified = converter.convert(ch)
        assert simplified != ch
        assert fold(ch) == fold(simplified) == simplified


def test_spellings_write_a_word_in_either_script() -> None:
    assert set(spellings("护照")) == {"护照", "護照"}
    assert {"身份证", "身份證", "身份証"} <= set(spellings("身份证"))
    assert spellings("phone") == ["phone"]
    # Every spelling folds to the word, as the keyword fold reads it.
    for word in ("身份证", "电话号码", "纳税人识别号", "来往内地", "银行卡"):
        assert all(fold(spelling) == fold(word) for spelling in spellings(word)), word


def test_either_script_reads_each_character_in_both_scripts() -> None:
    import re

    pattern = re.compile(either_script("订单号"))
    assert all(pattern.fullmatch(written) for written in ("订单号", "訂單號", "订單号"))
    assert not pattern.fullmatch("订单")


def test_with_traditional_forms_adds_each_form_once() -> None:
    chars = with_traditional_forms("沪粤京")
    assert chars.startswith("沪粤京")
    assert {"滬", "粵"} <= set(chars)
    assert len(chars) == len(set(chars))


@given(mixed_text, mixed_text)
@settings(max_examples=300, deadline=None)
def test_fold_is_per_character(left: str, right: str) -> None:
    assert fold(left + right) == fold(left) + fold(right)
    assert fold(fold(left)) == fold(left)


@given(mixed_text)
@settings(max_examples=300, deadline=None)
def test_fold_with_offsets_points_at_the_producing_characters(text: str) -> None:
    folded, offsets = fold_with_offsets(text)
    assert folded == fold(text)
    assert len(offsets) == len(folded)
    assert offsets == sorted(offsets)
    rebuilt = "".join(fold(text[i]) for i in sorted(set(offsets)))
    assert rebuilt == folded
    assert all(fold(text[i]) == "" for i in range(len(text)) if i not in set(offsets))
    assert list(fold_lengths(text)) == [len(fold(ch)) for ch in text]


@given(st.lists(mixed_text, max_size=12).map("".join))
@settings(max_examples=200, deadline=None)
def test_offset_map_matches_fold_with_offsets(text: str) -> None:
    folded, offsets = fold_with_offsets(text)
    mapping = OffsetMap(text)
    assert mapping.folded_length == len(folded)
    assert mapping.original_indices(0, len(folded)) == offsets
    for start in range(0, len(folded), 7):
        end = min(len(folded), start + 5)
        assert mapping.original_indices(start, end) == offsets[start:end]
        assert mapping.original_span(start, end) == original_span(offsets, start, end)


@pytest.mark.parametrize("size", [0, 1, 255, 256, 257, 1000, 5000])
def test_offset_map_across_blocks(size: int) -> None:
    # Blocks that fold to nothing, to one character per original and to several.
    text = ("ab  ﬁ。。" * size)[:size] + " " * 600 + "法轮功" + "ß" * 300
    folded, offsets = fold_with_offsets(text)
    mapping = OffsetMap(text)
    assert mapping.original_indices(0, len(folded)) == offsets
    assert [mapping.original_index(i) for i in range(len(folded))] == offsets


def test_offset_map_rejects_positions_outside_the_folded_text() -> None:
    mapping = OffsetMap("a b")
    with pytest.raises(IndexError):
        mapping.original_indices(0, 3)
    with pytest.raises(IndexError):
        mapping.original_index(2)


@pytest.mark.parametrize(
    ("text", "needle", "span"),
    [
        # Separators between the matched characters are inside, those around are not.
        ("  法 轮 功  ", "法轮功", (2, 7)),
        ("x, b.a.d! y", "bad", (3, 8)),
        ("\u200bbad\u200b", "bad", (1, 4)),
        ("a ﬁx", "fi", (2, 3)),  # part of an expansion maps to the whole character
        ("a ﬁx", "ix", (2, 4)),
        ("Straße", "ss", (4, 5)),
    ],
)
def test_original_span(text: str, needle: str, span: tuple[int, int]) -> None:
    folded, offsets = fold_with_offsets(text)
    start = folded.index(needle)
    assert original_span(offsets, start, start + len(needle)) == span
    assert OffsetMap(text).original_span(start, start + len(needle)) == span


@pytest.mark.parametrize(
    ("ch", "invisible"),
    [
        ("\u200b", True),
        ("\u202e", True),
        ("\u0301", True),
        ("\ufe0f", True),
        ("\U000e0041", True),
        ("\u3164", True),
        (" ", False),
        ("-", False),
        ("\n", False),
        ("a", False),
        ("法", False),
    ],
)
def test_is_invisible(ch: str, invisible: bool) -> None:
    assert is_invisible(ch) is invisible


def test_visible_separator_count() -> None:
    assert visible_separator_count("a\u200b\u200b - \u200db", 1, 7) == 3


@pytest.mark.parametrize(
    ("ch", "latin"),
    [("a", True), ("7", True), ("æ", True), ("þ", True), ("ŋ", True), ("法", False), ("ω", False), ("я", False)],
)
def test_is_latin_word_char(ch: str, latin: bool) -> None:
    assert is_latin_word_char(ch) is latin


def test_letters_and_digits_of_every_script_are_kept() -> None:
    kept = [
        chr(cp)
        for cp in range(0x30000)
        if unicodedata.category(chr(cp))[0] in "LN" and not 0xD800 <= cp <= 0xDFFF and fold(chr(cp)) == ""
    ]

    # Only invisible fillers, and letters that NFKC turns into combining marks, spaces or the
    # quote-like modifier letters (compatibility forms such as ARABIC FATHA ISOLATED FORM).
    def folds_to_marks(ch: str) -> bool:
        return all(
            unicodedata.category(c) in ("Mn", "Zs") or 0x02B0 <= ord(c) <= 0x02FF
            for c in unicodedata.normalize("NFKC", ch)
        )

    assert all(is_invisible(ch) or folds_to_marks(ch) for ch in kept), kept
