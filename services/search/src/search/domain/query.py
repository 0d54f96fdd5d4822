"""User query text -> one parsed query, which each backend renders in its own syntax.

The grammar is PostgreSQL's `websearch_to_tsquery`, whatever the backend:

- words are required (AND): `deploy rollback`;
- `"a phrase"` needs its words next to each other, in order (an unclosed quote runs to the end);
- `or` between terms makes alternatives: `deploy or release`; AND binds tighter than OR;
- `-word` or `-"a phrase"` excludes the contexts that contain it.

Each word is reduced to its runs of letters and digits (`foo-bar` is the phrase `foo bar`,
`it's` is `it s`), lowercased; a term with none (`&&`, `--`) is dropped, as is any control
character. An alternative with only excluded terms matches nothing (a search must name
something to find), so `-draft` alone finds nothing rather than everything.

The parsed query is rendered as canonical `websearch_to_tsquery` input for PostgreSQL (every
term quoted, so no user text is ever an operator) and as an FTS5 expression of quoted strings
for SQLite: neither can be a syntax error, whatever the user typed.
"""

import re
from dataclasses import dataclass

from search.domain.errors import InvalidQueryError

MAX_QUERY_LENGTH = 500
MAX_TERMS = 32
_WORD_RUN = re.compile(r"[^\W_]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Term:
    """One word or phrase: its lowercase runs of letters and digits, excluded or not."""

    words: tuple[str, ...]
    negated: bool = False

    def quoted(self) -> str:
        """The term as one double-quoted string (no quote can occur inside)."""
        return '"' + " ".join(self.words) + '"'


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    """Alternatives (OR) of conjunctions (AND) of terms; each alternative has a required term."""

    alternatives: tuple[tuple[Term, ...], ...]

    @property
    def matches_nothing(self) -> bool:
        """Whether no context can match (nothing left to look for)."""
        return not self.alternatives

    def websearch(self) -> str:
        """Canonical input for PostgreSQL's `websearch_to_tsquery`."""
        return " or ".join(
            " ".join(("-" if term.negated else "") + term.quoted() for term in group)
            for group in self.alternatives
        )

    def fts5(self) -> str:
        """The same query as an SQLite FTS5 MATCH expression."""
        rendered = []
        for group in self.alternatives:
            required = " AND ".join(term.quoted() for term in group if not term.negated)
            expression = f"({required})"
            for term in group:
                if term.negated:
                    expression = f"({expression} NOT {term.quoted()})"
            rendered.append(expression)
        return " OR ".join(rendered)


def _term(raw: str, negated: bool) -> Term | None:
    words = tuple(run.lower() for run in _WORD_RUN.findall(raw))
    return Term(words, negated) if words else None


def _lex(text: str) -> list[tuple[str, bool, bool]]:
    """(text, negated, quoted) for each term of `text`, in order."""
    tokens: list[tuple[str, bool, bool]] = []
    index, length = 0, len(text)
    while index < length:
        if text[index].isspace():
            index += 1
            continue
        negated = False
        if text[index] == "-" and index + 1 < length and not text[index + 1].isspace():
            negated = True
            index += 1
        if text[index] == '"':
            end = text.find('"', index + 1)
            end = length if end < 0 else end
            tokens.append((text[index + 1 : end], negated, True))
            index = end + 1
            continue
        end = index
        while end < length and not text[end].isspace() and text[end] != '"':
            end += 1
        tokens.append((text[index:end], negated, False))
        index = end
    return tokens


def parse_query(text: str) -> ParsedQuery:
    """The query `text` stands for; `InvalidQueryError` when it is empty or too long."""
    if not text.strip():
        raise InvalidQueryError("the query is empty")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    tokens = _lex(_CONTROL.sub(" ", text))
    groups: list[list[Term]] = [[]]
    for position, (raw, negated, quoted) in enumerate(tokens):
        is_or = not quoted and not negated and raw.lower() == "or"
        if is_or and groups[-1] and position + 1 < len(tokens):
            groups.append([])
            continue
        term = _term(raw, negated)
        if term is not None:
            groups[-1].append(term)
    if sum(len(group) for group in groups) > MAX_TERMS:
        raise InvalidQueryError(f"the query has more than {MAX_TERMS} terms")
    alternatives = tuple(
        tuple(group) for group in groups if any(not term.negated for term in group)
    )
    return ParsedQuery(alternatives)
