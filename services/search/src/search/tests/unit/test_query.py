"""The query parser: websearch's grammar, rendered for PostgreSQL and FTS5, never an error."""

import sqlite3

import pytest
from hypothesis import given, settings  # pants: no-infer-dep - installed by schemathesis
from hypothesis import strategies as st  # pants: no-infer-dep - installed by schemathesis

from search.domain.errors import InvalidQueryError
from search.domain.query import MAX_QUERY_LENGTH, MAX_TERMS, ParsedQuery, Term, parse_query


@pytest.mark.parametrize(
    ("text", "websearch", "fts5"),
    [
        ("rollback", '"rollback"', '("rollback")'),
        ("Deploy  Rollback", '"deploy" "rollback"', '("deploy" AND "rollback")'),
        ('"release checklist"', '"release checklist"', '("release checklist")'),
        ('"unclosed phrase', '"unclosed phrase"', '("unclosed phrase")'),
        ("deploy or release", '"deploy" or "release"', '("deploy") OR ("release")'),
        ("deploy OR release", '"deploy" or "release"', '("deploy") OR ("release")'),
        ("deploy -draft", '"deploy" -"draft"', '(("deploy") NOT "draft")'),
        ('a -"b c" d', '"a" -"b c" "d"', '(("a" AND "d") NOT "b c")'),
        ("foo-bar", '"foo bar"', '("foo bar")'),
        ("it's", '"it s"', '("it s")'),
        ('"or"', '"or"', '("or")'),
        ("or", '"or"', '("or")'),
        ("deploy or", '"deploy" "or"', '("deploy" AND "or")'),
        ("Éclair", '"éclair"', '("éclair")'),
        ('x AND y NOT z ( ) * ^ :col NEAR("a")', None, None),
    ],
)
def test_queries_parse_to_one_canonical_form(
    text: str, websearch: str | None, fts5: str | None
) -> None:
    parsed = parse_query(text)

    assert not parsed.matches_nothing
    if websearch is not None:
        assert parsed.websearch() == websearch
    if fts5 is not None:
        assert parsed.fts5() == fts5


def test_fts5_operators_in_user_text_are_only_words() -> None:
    parsed = parse_query('x AND y NOT z NEAR("a") col:q*')

    assert parsed == ParsedQuery(
        (
            (
                Term(("x",)),
                Term(("and",)),
                Term(("y",)),
                Term(("not",)),
                Term(("z",)),
                Term(("near",)),
                Term(("a",)),
                Term(("col", "q")),
            ),
        )
    )


@pytest.mark.parametrize("text", ["-draft", "&& ||", "-a -b", "-a or -b", '""', "- -"])
def test_a_query_with_nothing_required_matches_nothing(text: str) -> None:
    assert parse_query(text).matches_nothing


def test_an_alternative_of_only_exclusions_is_dropped() -> None:
    assert parse_query("deploy or -draft").websearch() == '"deploy"'


@pytest.mark.parametrize("text", ["", "   ", "\t\n"])
def test_an_empty_query_is_refused(text: str) -> None:
    with pytest.raises(InvalidQueryError, match="empty"):
        parse_query(text)


def test_too_long_or_too_many_terms_is_refused() -> None:
    with pytest.raises(InvalidQueryError, match="longer"):
        parse_query("a" * (MAX_QUERY_LENGTH + 1))
    with pytest.raises(InvalidQueryError, match="terms"):
        parse_query(" ".join(["w"] * (MAX_TERMS + 1)))


def test_control_characters_are_spaces() -> None:
    assert parse_query("dep\x00loy\x1b").websearch() == '"dep" "loy"'


@pytest.fixture(scope="module")
def fts5() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE t USING fts5(name, labels_text, text, "
        "tokenize='unicode61 remove_diacritics 0')"
    )
    connection.execute("INSERT INTO t VALUES ('runbook', 'team ops', 'deploy and roll back')")
    return connection


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=MAX_QUERY_LENGTH).filter(str.strip))
def test_no_user_text_is_an_fts5_syntax_error(fts5: sqlite3.Connection, text: str) -> None:
    try:
        parsed = parse_query(text)
    except InvalidQueryError:
        return  # too many terms: refused before any backend sees it
    if not parsed.matches_nothing:
        fts5.execute("SELECT rowid FROM t WHERE t MATCH ?", (parsed.fts5(),)).fetchall()
