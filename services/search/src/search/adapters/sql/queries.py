"""The search statements of each backend, built from a `SearchPlan` and a `Reader`.

Both run the same plan: the parsed query (`websearch_to_tsquery` on PostgreSQL, an FTS5
expression on SQLite), the filters, contexts' read rule as a WHERE clause (admins skip it),
the keyset position, and one row more than the page. No user text is ever part of the SQL:
everything the caller sent is a bound parameter.

- PostgreSQL ranks with `ts_rank_cd(document, query, 32)` (cover density, scaled to 0..1)
  and marks matches with `ts_headline` on the page's rows only (after the LIMIT).
- SQLite ranks with `-bm25(fts, 10, 4, 1)` (name, labels, text: the weights A, B and D have
  in `ts_rank_cd`); its snippets come from a second statement over the page's rows.

Namespace and name order bytewise on both (`COLLATE "C"` on PostgreSQL), so ties break alike.
"""

import functools
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import BindParameter

from search.adapters.sql.tables import CONTEXTS_TABLE, FTS_TABLE
from search.domain.acl import is_admin
from search.domain.model import Reader
from search.domain.search import SearchPlan
from search.domain.snippets import ELLIPSIS, MARK_END, MARK_START
from slipway.db import UtcDateTime

SNIPPET_WORDS = 24
# ts_headline's options: the control-character marks, one passage of 8 to 24 words around
# the best match (PostgreSQL drops markup from it; it adds no ellipsis).
HEADLINE_OPTIONS = (
    f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords={SNIPPET_WORDS}, MinWords=8'
)
# bm25 column weights (name, labels_text, text), in ts_rank_cd's default ratios (A, B, D).
BM25_WEIGHTS = "10.0, 4.0, 1.0"


# The result columns of a search, in order: slipway.db's reads type them by position.
_HIT_COLUMNS = ("namespace", "name", "version", "kind", "labels", "updated_at", "score")


def _keyset(keyset: bool, collate: str) -> str:
    if not keyset:
        return ""
    return (
        "WHERE r.score < :after_score OR (r.score = :after_score AND "
        f"(r.namespace{collate}, r.name{collate}) > (:after_namespace, :after_name))"
    )


def _order(alias: str, collate: str) -> str:
    return f"{alias}.score DESC, {alias}.namespace{collate}, {alias}.name{collate}"


def _columns(labels: sa.types.TypeEngine[Any], *extra: str) -> list[sa.ColumnClause[Any]]:
    types: dict[str, Any] = {
        "version": sa.BigInteger(),
        "labels": labels,
        "updated_at": UtcDateTime(),
        "score": sa.types.NULLTYPE,  # float8 / REAL as the driver gives it
    }
    return [sa.column(name, types.get(name, sa.Text())) for name in (*extra, *_HIT_COLUMNS)]


def _ordered(
    textual: sa.TextualSelect, collate: str | None, alias: str = "found"
) -> sa.Select[Any]:
    """`textual` (the page, unordered) as a Core SELECT in the page's order: a statement
    object slipway.db's reads compile once and run straight on the driver."""
    found = textual.subquery(alias)

    def bytewise(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return column if collate is None else column.collate(collate)

    return sa.select(*found.c).order_by(
        found.c.score.desc(), bytewise(found.c.namespace), bytewise(found.c.name)
    )


@dataclass(frozen=True, slots=True)
class Shape:
    """Which optional clauses a search has: one prebuilt statement per shape."""

    namespace: bool
    kind: bool
    labels: int
    acl: bool
    keyset: bool

    @classmethod
    def of(cls, plan: SearchPlan, reader: Reader) -> "Shape":
        return cls(
            namespace=plan.namespace is not None,
            kind=plan.kind is not None,
            labels=len(plan.labels),
            acl=not is_admin(reader),
            keyset=plan.after is not None,
        )


def search_parameters(plan: SearchPlan, reader: Reader, *, sqlite: bool) -> dict[str, Any]:
    """The bound values of a search (both backends; SQLite's lists and labels as JSON)."""
    params: dict[str, Any] = {
        "query": plan.query.fts5() if sqlite else plan.query.websearch(),
        "limit": plan.limit + 1,
    }
    if not sqlite:
        params["headline"] = HEADLINE_OPTIONS
    if plan.namespace is not None:
        params["namespace"] = plan.namespace
    if plan.kind is not None:
        params["kind"] = plan.kind
    if plan.labels and not sqlite:
        params["labels"] = dict(plan.labels)
    for index, (key, value) in enumerate(sorted(plan.labels.items()) if sqlite else ()):
        params[f"label_key_{index}"] = key
        params[f"label_value_{index}"] = value
    if not is_admin(reader):
        params["subject"] = reader.subject
        entries = sorted(reader.acl_entries)
        params["entries"] = json.dumps(entries) if sqlite else entries
    if plan.after is not None:
        params.update(
            after_score=plan.after.score,
            after_namespace=plan.after.namespace,
            after_name=plan.after.name,
        )
    return params


@functools.cache
def postgres_statement(shape: Shape) -> sa.Select[Any]:
    """The PostgreSQL search of `shape`, without values (see `search_parameters`)."""
    query = "websearch_to_tsquery('simple', :query)"
    binds: list[BindParameter[Any]] = []
    where = [f"c.document @@ {query}", "NOT c.deleted"]
    if shape.namespace:
        where.append("c.namespace = :namespace")
    if shape.kind:
        where.append("c.kind = :kind")
    if shape.labels:
        where.append("c.labels @> :labels")
        binds.append(sa.bindparam("labels", type_=postgresql.JSONB()))
    if shape.acl:
        where.append("(c.owner = :subject OR c.readers && :entries OR c.writers && :entries)")
        binds.append(sa.bindparam("entries", type_=postgresql.ARRAY(sa.Text())))
    collate = ' COLLATE "C"'
    sql = f"""
        SELECT p.namespace, p.name, p.version, p.kind, p.labels, p.updated_at, p.score,
               ts_headline('simple', p.text, {query}, :headline) AS snippet
        FROM (
            SELECT r.* FROM (
                SELECT c.namespace, c.name, c.version, c.kind, c.labels, c.updated_at, c.text,
                       ts_rank_cd(c.document, {query}, 32)::float8 AS score
                FROM {CONTEXTS_TABLE} AS c
                WHERE {" AND ".join(where)}
            ) AS r
            {_keyset(shape.keyset, collate)}
            ORDER BY {_order("r", collate)}
            LIMIT :limit
        ) AS p
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    columns = [*_columns(postgresql.JSONB()), sa.column("snippet", sa.Text())]
    return _ordered(sa.text(sql).bindparams(*binds).columns(*columns), "C")


def postgres_search(plan: SearchPlan, reader: Reader) -> sa.Select[Any]:
    """The page (plus one row) with marked snippets, on PostgreSQL, its values bound."""
    return postgres_statement(Shape.of(plan, reader)).params(
        search_parameters(plan, reader, sqlite=False)
    )


@functools.cache
def sqlite_statement(shape: Shape) -> sa.Select[Any]:
    """The SQLite search of `shape` without snippets (`id` for `SQLITE_SNIPPETS`), without
    values (see `search_parameters`)."""
    where = [f"{FTS_TABLE} MATCH :query", "NOT c.deleted"]
    if shape.namespace:
        where.append("c.namespace = :namespace")
    if shape.kind:
        where.append("c.kind = :kind")
    for index in range(shape.labels):
        where.append(
            "EXISTS (SELECT 1 FROM json_each(c.labels) AS l WHERE "  # noqa: S608 - bound values
            f"l.key = :label_key_{index} AND l.type = 'text' AND l.value = :label_value_{index})"
        )
    if shape.acl:
        member = (
            "EXISTS (SELECT 1 FROM json_each(c.{0}) AS e "
            "WHERE e.value IN (SELECT value FROM json_each(:entries)))"
        )
        where.append(
            f"(c.owner = :subject OR {member.format('readers')} OR {member.format('writers')})"
        )
    sql = f"""
        SELECT r.* FROM (
            SELECT c.id, c.namespace, c.name, c.version, c.kind, c.labels, c.updated_at,
                   -bm25({FTS_TABLE}, {BM25_WEIGHTS}) AS score
            FROM {FTS_TABLE} JOIN {CONTEXTS_TABLE} AS c ON c.id = {FTS_TABLE}.rowid
            WHERE {" AND ".join(where)}
        ) AS r
        {_keyset(shape.keyset, "")}
        ORDER BY r.score DESC, r.namespace, r.name
        LIMIT :limit
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    columns = _columns(sa.JSON(), "id")
    columns[0] = sa.column("id", sa.Integer())
    return _ordered(sa.text(sql).columns(*columns), None)


def sqlite_search(plan: SearchPlan, reader: Reader) -> sa.Select[Any]:
    """The page (plus one row) without snippets, on SQLite, its values bound."""
    return sqlite_statement(Shape.of(plan, reader)).params(
        search_parameters(plan, reader, sqlite=True)
    )


# The marked snippet of each of `:ids` (a JSON list of the rows the page query found).
SQLITE_SNIPPETS = sa.select(
    *sa.text(
        f"""
        SELECT rowid AS id,
               snippet({FTS_TABLE}, 2, char(2), char(3), '{ELLIPSIS}', {SNIPPET_WORDS}) AS snippet
        FROM {FTS_TABLE}
        WHERE {FTS_TABLE} MATCH :query AND rowid IN (SELECT value FROM json_each(:ids))
        """  # noqa: S608 - constant fragments; every value is a bound parameter
    )
    .columns(sa.column("id", sa.Integer()), sa.column("snippet", sa.Text()))
    .subquery("snippets")
    .c
)


def sqlite_snippets(plan: SearchPlan, row_ids: list[int]) -> sa.Select[Any]:
    """The marked snippet of each of `row_ids` (rows the page query found), on SQLite."""
    return SQLITE_SNIPPETS.params(query=plan.query.fts5(), ids=json.dumps(row_ids))
