"""A search runs one prebuilt statement per shape, sent by the driver itself on PostgreSQL.

The statements are built once per shape (filters present, ACL or admin, first page or a
cursor's) and only their values change per search: no SQL text, no SQLAlchemy compilation
and, on PostgreSQL, no SQLAlchemy execution per search (asyncpg's own prepared statements).
Results are the ones the tests in test_sql_search.py hold both backends to.
"""

from typing import Any

import pytest
import sqlalchemy as sa

from search.adapters.sql import SqlSearchIndex
from search.adapters.sql.queries import Shape, postgres_statement, sqlite_statement
from search.domain.acl import may_read
from search.domain.model import IndexedContext, SearchQuery
from search.domain.search import plan_search
from search.migrations import MIGRATIONS_DIR
from search.tests.builders import BOB, EVERYONE, ROOT, indexed
from slipway.db.testing import throwaway_postgres_database

# (namespace, kind, labels) filters of the searched shapes.
SHAPES: list[tuple[str | None, str | None, dict[str, str]]] = [
    (None, None, {}),
    ("team-a", "runbook", {"tier": "gold", "team": "ops"}),
    (None, None, {"tier": "gold"}),
]


def selected(
    context: IndexedContext, namespace: str | None, kind: str | None, labels: dict[str, str]
) -> bool:
    return (
        namespace in (None, context.ref.namespace)
        and kind in (None, context.kind)
        and labels.items() <= dict(context.labels).items()
    )


def test_a_shape_is_built_once() -> None:
    plan = plan_search(SearchQuery(text="deploy", namespace="team-a", labels={"tier": "gold"}))
    shape = Shape.of(plan, BOB)

    assert postgres_statement(shape) is postgres_statement(Shape.of(plan, BOB))
    assert sqlite_statement(shape) is sqlite_statement(Shape.of(plan, BOB))
    assert Shape.of(plan, ROOT) != shape  # an admin's search has no ACL clause


@pytest.mark.integration
async def test_postgres_searches_run_no_sqlalchemy_execution(postgres_url: str) -> None:
    corpus = [
        indexed(
            f"doc-{n}",
            f"deploy step {n} " + "deploy " * (n % 4),
            kind="runbook" if n % 2 else "document",
            labels={"tier": "gold" if n % 3 else "silver", "team": "ops"},
            owner="alice" if n % 5 else "dave",
            readers={"subject:bob"} if n % 4 else set(),
        )
        for n in range(30)
    ]
    executed: list[str] = []

    def record(*args: Any) -> None:
        executed.append(args[2])

    async with throwaway_postgres_database(postgres_url, migrations_dir=MIGRATIONS_DIR) as db:
        index = SqlSearchIndex(db)
        for context in corpus:
            await index.put(context)
        sa.event.listen(db.engine.sync_engine, "before_cursor_execute", record)
        for namespace, kind, labels in SHAPES:
            for reader in EVERYONE:
                expected = [
                    c.ref.name
                    for c in corpus
                    if may_read(reader, c) and selected(c, namespace, kind, labels)
                ]
                found: list[str] = []
                cursor: str | None = None
                while True:
                    query = SearchQuery("deploy", namespace, kind, labels, limit=7, cursor=cursor)
                    page = await index.search(query, reader)
                    found += [hit.ref.name for hit in page.hits]
                    assert all(hit.snippet.count("<mark>deploy</mark>") for hit in page.hits)
                    if (cursor := page.next_cursor) is None:
                        break
                assert sorted(found) == sorted(expected)
                assert len(found) == len(set(found))
        sa.event.remove(db.engine.sync_engine, "before_cursor_execute", record)

    assert executed == []
