"""Lexicon files: format, validation errors that name file and line, duplicates, reading line by line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from policies.lexicon import MAX_TERM_CHARS, Duplicates, LexiconError, Term, iter_lexicon, load_lexicon, read_lexicon

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
        ("ok\nA.1.a\t法轮功\n", "A.1.a", 2, "(3 characters, not shaped like a category name; a line is "
         "'term<TAB>category': are the columns swapped?)"),  # the term is not quoted: it would be logged
        ("ok\nA.1.a\tcasino\n", "A.1.a", 2, "(6 characters, not shaped"),  # nor a Latin one (review)
        ("ok\nA.1.a\t8964\n", "A.1.a", 2, "(4 characters, not shaped"),
        ("ok\n" + "x" * (MAX_TERM_CHARS + 1) + "\n", "A.1.a", 2, "shorten it"),
        # Review: layouts that silently changed the terms
        ("ok\n赌博网站    A.1.a\n", "A.1.a", 2, "separate the term and its category with a TAB"),
        ("ok\nbomb recipe pii\n", "A.1.a", 2, "separate the term and its category with a TAB"),
        ("alpha\rbeta\rgamma\r", "A.1.a", 1, "save the file with LF or CRLF line endings"),
        ("ok\n成人\u3000A.1.a\n", "A.1.a", 2, "separate the term and its category with a TAB"),  # an IME's space
        ("ok\r\n成人\u3000A.1.a\r\n", "A.1.a", 2, "separate the term and its category with a TAB"),  # CRLF alike
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
    assert "法轮功" not in message


def test_a_tab_without_a_category_takes_the_files(tmp_path: Path) -> None:
    assert [t.category for t in load_lexicon(_write(tmp_path, "word\t\nother\t A.2.c\n"), "A.1.a", ALLOWED)] == [
        "A.1.a", "A.2.c",
    ]


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


def test_read_lexicon_yields_every_line_with_its_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "# c\nBad Word\tA.2.c\n\nbadword\n臺獨\n")
    assert list(read_lexicon(path, "A.1.a", ALLOWED)) == [
        ("Bad Word", "badword", "A.2.c", 2),
        ("badword", "badword", "A.1.a", 4),  # duplicates are the reader's caller's business
        ("臺獨", "台独", "A.1.a", 5),
    ]


def test_lines_end_at_line_feeds_only(tmp_path: Path) -> None:
    # Other Unicode line boundaries (U+2028, form feed) are inside a line; the fold deletes
    # them, as it deletes any separator. A lone CR is an error (see above): whole files of
    # classic Mac OS line endings read as one term.
    path = _write(tmp_path, "a\u2028b\r\nc\x0cde\n\ufefff\n")
    assert [(key, line) for _, key, _, line in read_lexicon(path, "A.1.a")] == [("ab", 1), ("cde", 2), ("f", 3)]


def test_invalid_utf8_names_the_byte_and_its_column(tmp_path: Path) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbfok\nfine\nno\xc3(\n")
    with pytest.raises(LexiconError) as error:
        load_lexicon(path, "A.1.a")
    assert str(error.value) == f"{path}:3: invalid UTF-8 (byte 0xc3 at byte column 3); re-save the file as UTF-8"
    path = _write(tmp_path, b"\xef\xbb\xbfo\xffk\n")  # the byte-order mark's bytes count
    with pytest.raises(LexiconError, match=r"words\.txt:1: invalid UTF-8 \(byte 0xff at byte column 5\)"):
        load_lexicon(path, "A.1.a")


def test_the_file_is_read_as_it_is_consumed(tmp_path: Path) -> None:
    path = _write(tmp_path, "one\ntwo\nth\tnope\nfour\n")
    terms = iter_lexicon(path, "A.1.a", ALLOWED)
    assert [next(terms).text, next(terms).text] == ["one", "two"]
    with pytest.raises(LexiconError, match=r"words\.txt:3: unknown category \(4 characters"):
        next(terms)


def test_duplicates_name_the_line_they_repeat_when_many_are_interleaved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = [f"k{i}" for i in range(30)]
    path = _write(tmp_path, "\n".join(keys + keys[::-1]) + "\n")
    with caplog.at_level(logging.WARNING, logger="policies.lexicon"):
        assert len(load_lexicon(path, "A.1.a")) == 30
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        *(
            f"{path}:{31 + i}: duplicate term: folds to the same key as line {30 - i}; keeping line {30 - i}"
            for i in range(10)
        ),
        f"{path}: 30 duplicate terms in all; the first of each was kept",
    ]


@pytest.mark.parametrize("change", ["rewritten", "deleted"])
def test_duplicates_of_a_file_changed_since_it_was_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, change: str
) -> None:
    path = _write(tmp_path, "x\nx\n")
    duplicates = Duplicates(path)
    duplicates.add(2, "x")
    if change == "rewritten":
        _write(tmp_path, "y\n")
    else:
        path.unlink()
    with caplog.at_level(logging.WARNING, logger="policies.lexicon"):
        duplicates.log()
    assert [record.getMessage() for record in caplog.records] == [
        f"{path}:2: duplicate term: folds to the same key as an earlier line"
    ]
