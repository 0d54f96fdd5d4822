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
# Result types, by column name (`TextClause.columns` keywords match by name).
_RESULT_TYPES: dict[str, Any] = {"updated_at": UtcDateTime(), "score": sa.Float()}


def _keyset(plan: SearchPlan, params: dict[str, Any], collate: str) -> str:
    if plan.after is None:
        return ""
    params.update(
        after_score=plan.after.score,
        after_namespace=plan.after.namespace,
        after_name=plan.after.name,
    )
    return (
        "WHERE r.score < :after_score OR (r.score = :after_score AND "
        f"(r.namespace{collate}, r.name{collate}) > (:after_namespace, :after_name))"
    )


def _order(alias: str, collate: str) -> str:
    return f"{alias}.score DESC, {alias}.namespace{collate}, {alias}.name{collate}"


def postgres_search(plan: SearchPlan, reader: Reader) -> sa.TextualSelect:
    """The page (plus one row) with marked snippets, on PostgreSQL."""
    query = "websearch_to_tsquery('simple', :query)"
    params: dict[str, Any] = {
        "query": plan.query.websearch(),
        "limit": plan.limit + 1,
        "headline": HEADLINE_OPTIONS,
    }
    binds: list[BindParameter[Any]] = []
    where = [f"c.document @@ {query}", "NOT c.deleted"]
    if plan.namespace is not None:
        where.append("c.namespace = :namespace")
        params["namespace"] = plan.namespace
    if plan.kind is not None:
        where.append("c.kind = :kind")
        params["kind"] = plan.kind
    if plan.labels:
        where.append("c.labels @> :labels")
        params["labels"] = dict(plan.labels)
        binds.append(sa.bindparam("labels", type_=postgresql.JSONB()))
    if not is_admin(reader):
        where.append("(c.owner = :subject OR c.readers && :entries OR c.writers && :entries)")
        params["subject"] = reader.subject
        params["entries"] = sorted(reader.acl_entries)
        binds.append(sa.bindparam("entries", type_=postgresql.ARRAY(sa.Text())))
    collate = ' COLLATE "C"'
    keyset = _keyset(plan, params, collate)
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
            {keyset}
            ORDER BY {_order("r", collate)}
            LIMIT :limit
        ) AS p
        ORDER BY {_order("p", collate)}
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    return (
        sa.text(sql)
        .bindparams(*binds, **params)
        .columns(**_RESULT_TYPES, labels=postgresql.JSONB())
    )


def sqlite_search(plan: SearchPlan, reader: Reader) -> sa.TextualSelect:
    """The page (plus one row) without snippets, on SQLite (`id` for `sqlite_snippets`)."""
    params: dict[str, Any] = {"query": plan.query.fts5(), "limit": plan.limit + 1}
    binds: list[BindParameter[Any]] = []
    where = [f"{FTS_TABLE} MATCH :query", "NOT c.deleted"]
    if plan.namespace is not None:
        where.append("c.namespace = :namespace")
        params["namespace"] = plan.namespace
    if plan.kind is not None:
        where.append("c.kind = :kind")
        params["kind"] = plan.kind
    for index, (key, value) in enumerate(sorted(plan.labels.items())):
        where.append(
            "EXISTS (SELECT 1 FROM json_each(c.labels) AS l WHERE "  # noqa: S608 - bound values
            f"l.key = :label_key_{index} AND l.type = 'text' AND l.value = :label_value_{index})"
        )
        params[f"label_key_{index}"] = key
        params[f"label_value_{index}"] = value
    if not is_admin(reader):
        member = "EXISTS (SELECT 1 FROM json_each(c.{0}) AS e WHERE e.value IN :entries)"
        where.append(
            f"(c.owner = :subject OR {member.format('readers')} OR {member.format('writers')})"
        )
        params["subject"] = reader.subject
        params["entries"] = sorted(reader.acl_entries)
        binds.append(sa.bindparam("entries", expanding=True))
    keyset = _keyset(plan, params, "")
    sql = f"""
        SELECT r.* FROM (
            SELECT c.id, c.namespace, c.name, c.version, c.kind, c.labels, c.updated_at,
                   -bm25({FTS_TABLE}, {BM25_WEIGHTS}) AS score
            FROM {FTS_TABLE} JOIN {CONTEXTS_TABLE} AS c ON c.id = {FTS_TABLE}.rowid
            WHERE {" AND ".join(where)}
        ) AS r
        {keyset}
        ORDER BY r.score DESC, r.namespace, r.name
        LIMIT :limit
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    return sa.text(sql).bindparams(*binds, **params).columns(**_RESULT_TYPES, labels=sa.JSON())


def sqlite_snippets(plan: SearchPlan, row_ids: list[int]) -> sa.TextClause:
    """The marked snippet of each of `row_ids` (rows the page query found), on SQLite."""
    sql = f"""
        SELECT rowid AS id,
               snippet({FTS_TABLE}, 2, char(2), char(3), '{ELLIPSIS}', {SNIPPET_WORDS}) AS snippet
        FROM {FTS_TABLE}
        WHERE {FTS_TABLE} MATCH :query AND rowid IN :ids
    """  # noqa: S608 - constant fragments; every value is a bound parameter
    return sa.text(sql).bindparams(
        sa.bindparam("ids", expanding=True), query=plan.query.fts5(), ids=row_ids
    )
