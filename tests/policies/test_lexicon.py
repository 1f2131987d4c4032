"""Lexicon files: format, validation errors that name file and line, duplicates."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from policies.lexicon import MAX_TERM_CHARS, LexiconError, Term, iter_lexicon, load_lexicon

ALLOWED = {"A.1.a", "A.2.c", "pii", "secrets"}


def _write(tmp_path: Path, content: str | bytes, name: str = "words.txt") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def test_format(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "\ufeff# comment\n"
        "法轮功\n"
        "\n"
        "   \n"
        "  # indented comment\n"
        "  bad word  \r\n"
        "secret sauce\tsecrets\n"
        "phone number \t pii \n"
        "last line without newline",
    )
    terms = load_lexicon(path, "A.1.a", ALLOWED)
    source = str(path)
    assert terms == [
        Term("法轮功", "A.1.a", source, 2),
        Term("bad word", "A.1.a", source, 6),
        Term("secret sauce", "secrets", source, 7),
        Term("phone number", "pii", source, 8),
        Term("last line without newline", "A.1.a", source, 9),
    ]
    assert list(iter_lexicon(path, "A.1.a", ALLOWED)) == terms


def test_no_allowed_set_accepts_any_category(tmp_path: Path) -> None:
    path = _write(tmp_path, "x\tanything.goes\n")
    assert load_lexicon(path, None) == [Term("x", "anything.goes", str(path), 1)]


def test_empty_file(tmp_path: Path) -> None:
    assert load_lexicon(_write(tmp_path, ""), "A.1.a", ALLOWED) == []


@pytest.mark.parametrize(
    ("content", "category", "line", "fix"),
    [
        ("ok\n!!!\n", "A.1.a", 2, "delete the line"),  # only punctuation
        ("ok\n \u200b\u200d \n", "A.1.a", 2, "delete the line"),  # only invisible characters
        ("ok\tA.1.a\n★ ☆\tA.1.a\n", None, 2, "delete the line"),  # only symbols
        ("ok\tA.1.a\nno category\n", None, 2, "append '<TAB>category'"),
        ("ok\nword\t\n", None, 1, "append '<TAB>category'"),
        ("ok\nword\tZ.9.z\n", "A.1.a", 2, "use one of: A.1.a, A.2.c, pii, secrets"),
        ("ok\nword\tbad category\n", "A.1.a", 2, "use a name without spaces"),
        ("ok\n" + "x" * (MAX_TERM_CHARS + 1) + "\n", "A.1.a", 2, "shorten it"),
        ("ok\n" + "ﷺ" * 20 + "\n", "A.1.a", 2, "folds to 300 characters"),  # expands under NFKC
    ],
)
def test_errors_name_file_line_and_fix(tmp_path: Path, content: str, category: str | None, line: int, fix: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(LexiconError) as error:
        load_lexicon(path, category, ALLOWED)
    message = str(error.value)
    assert message.startswith(f"{path}:{line}: ")
    assert fix in message


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "one\ntwo\nth\xffree\nfour\n".encode("latin-1"))
    with pytest.raises(LexiconError, match=r"words\.txt:3: invalid UTF-8 .*re-save the file as UTF-8"):
        load_lexicon(path, "A.1.a", ALLOWED)


def test_gbk_file_is_rejected_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, b"ok\n" + "法轮功\n".encode("gbk"))
    with pytest.raises(LexiconError, match=r"words\.txt:2: invalid UTF-8"):
        load_lexicon(path, "A.1.a", ALLOWED)


def test_huge_single_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "a" * 10_000_000)
    with pytest.raises(LexiconError, match=r"words\.txt:1: term is 10000000 characters long, the limit is 256"):
        load_lexicon(path, "A.1.a", ALLOWED)


def test_unknown_file_category(tmp_path: Path) -> None:
    path = _write(tmp_path, "word\n")
    with pytest.raises(LexiconError, match=r"words\.txt: file category: unknown category 'nope'"):
        load_lexicon(path, "nope", ALLOWED)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LexiconError, match=r"missing\.txt: cannot read the lexicon"):
        load_lexicon(tmp_path / "missing.txt", "A.1.a", ALLOWED)


def test_longest_allowed_term(tmp_path: Path) -> None:
    path = _write(tmp_path, "x" * MAX_TERM_CHARS + "\n")
    assert len(load_lexicon(path, "A.1.a", ALLOWED)[0].text) == MAX_TERM_CHARS


def test_duplicates_warn_and_the_first_wins(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Same folded key: case, width, spacing, punctuation and the Traditional spelling.
    path = _write(tmp_path, "Bad Word\tA.1.a\nbadword\tA.2.c\nＢＡＤ-ＷＯＲＤ\n台独\n臺獨\n")
    with caplog.at_level(logging.WARNING, logger="policies.lexicon"):
        terms = load_lexicon(path, "A.1.a", ALLOWED)
    assert [(t.text, t.category, t.line) for t in terms] == [("Bad Word", "A.1.a", 1), ("台独", "A.1.a", 4)]
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        f"{path}:2: duplicate term: folds to the same key as line 1; keeping line 1",
        f"{path}:3: duplicate term: folds to the same key as line 1; keeping line 1",
        f"{path}:5: duplicate term: folds to the same key as line 4; keeping line 4",
    ]


def test_many_duplicates_are_summarized(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, "same\n" * 50)
    with caplog.at_level(logging.WARNING, logger="policies.lexicon"):
        terms = load_lexicon(path, "A.1.a", ALLOWED)
    assert len(terms) == 1
    assert len(caplog.records) == 11
    assert caplog.records[-1].getMessage() == f"{path}: 49 duplicate terms in all; the first of each was kept"


def test_large_lexicon_loads(tmp_path: Path) -> None:
    lines = [f"term{i}\tA.2.c" if i % 2 else f"词{i}" for i in range(20_000)]
    path = _write(tmp_path, "\n".join(lines))
    terms = load_lexicon(path, "A.1.a", ALLOWED)
    assert len(terms) == 20_000
    assert terms[1] == Term("term1", "A.2.c", str(path), 2)
    assert terms[-2] == Term("词19998", "A.1.a", str(path), 19_999)
