"""`SqlSearchIndex`: the `SearchIndex` port on slipway.db, PostgreSQL or SQLite.

Writes are one upsert per change, `INSERT ... ON CONFLICT (namespace, name) DO UPDATE ...
WHERE stored.version < new.version`: atomic on both backends, so of two concurrent writers
of one context the newer version wins whatever the order, and an older or repeated change
changes nothing. A `Removal` is stored as a tombstone (no text, no ACL) that keeps its
version. `apply` records the event id (slipway.events' `first_delivery`) in the same
transaction as the upsert: a repeated event is recognised and changes nothing.
"""

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from search.adapters.sql.queries import postgres_search, sqlite_search, sqlite_snippets
from search.adapters.sql.tables import contexts, processed_events
from search.domain.model import (
    Change,
    ContextRef,
    IndexedContext,
    Reader,
    Removal,
    SearchHit,
    SearchPage,
    SearchQuery,
)
from search.domain.search import SearchPlan, page_of, plan_search
from search.domain.snippets import indexable, render_snippet
from slipway.db import Database
from slipway.events import Event, first_delivery
from slipway.events.table import EVENT_ID_LENGTH

# The longest text indexed per context (PostgreSQL's tsvector has a 1 MB bound); the rest
# of a longer body is not searchable.
MAX_INDEXED_TEXT = 100_000
DEFAULT_CONSUMER = "search"
CONTEXT_EVENTS_STREAM = "contexts"
_UPDATED = (
    *("version", "deleted", "kind", "labels", "labels_text"),
    *("owner", "readers", "writers", "text", "updated_at"),
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def row_values(change: Change) -> dict[str, Any]:
    """The `search_contexts` row a change leaves (a tombstone for a removal)."""
    base = {"namespace": change.ref.namespace, "name": change.ref.name, "version": change.version}
    if isinstance(change, Removal):
        return {
            **base,
            "deleted": True,
            "kind": "",
            "labels": {},
            "labels_text": "",
            "owner": "",
            "readers": [],
            "writers": [],
            "text": "",
            "updated_at": _EPOCH,
        }
    labels = dict(change.labels)
    return {
        **base,
        "deleted": False,
        "kind": change.kind,
        "labels": labels,
        "labels_text": indexable(" ".join(f"{k} {v}" for k, v in sorted(labels.items()))),
        "owner": change.owner,
        "readers": sorted(change.readers),
        "writers": sorted(change.writers),
        "text": indexable(change.text[:MAX_INDEXED_TEXT]),
        "updated_at": change.updated_at,
    }


def _upsert(dialect: str, change: Change) -> sa.Executable:
    values = row_values(change)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(contexts).values(values)
    return statement.on_conflict_do_update(
        index_elements=[contexts.c.namespace, contexts.c.name],
        set_={column: statement.excluded[column] for column in _UPDATED},
        where=contexts.c.version < statement.excluded.version,
    )


def _hit(row: Any, snippet: str | None) -> SearchHit:
    labels = row.labels if isinstance(row.labels, dict) else json.loads(row.labels)
    return SearchHit(
        ref=ContextRef(row.namespace, row.name),
        version=int(row.version),
        kind=row.kind,
        labels=labels,
        score=float(row.score),
        snippet=render_snippet(snippet or ""),
        updated_at=row.updated_at,
    )


class SqlSearchIndex:
    """The search index in `search_contexts` (see `tables`), on the service's database."""

    def __init__(self, database: Database, *, consumer: str = DEFAULT_CONSUMER) -> None:
        self._database = database
        self._consumer = consumer
        self._dialect = database.url.get_backend_name()

    async def _write(self, session: AsyncSession, change: Change) -> None:
        if not isinstance(change, IndexedContext | Removal):
            raise TypeError(f"not a change: {change!r}")
        await session.execute(_upsert(self._dialect, change))

    async def apply(self, event_id: str, change: Change) -> bool:
        """Apply `change` once for `event_id`, in one transaction with that record; False
        (nothing changed) when the event was applied before."""
        if not 0 < len(event_id) <= EVENT_ID_LENGTH:
            raise ValueError(f"an event id has 1 to {EVENT_ID_LENGTH} characters")
        event = Event(stream=CONTEXT_EVENTS_STREAM, type="context.changed", payload={}, id=event_id)
        async with self._database.unit_of_work() as uow:
            first = await first_delivery(
                uow.session, processed_events, event, consumer=self._consumer
            )
            if not first:
                return False
            await self._write(uow.session, change)
        return True

    async def put(self, change: Change) -> None:
        """Apply a change without an event (a backfill), under the same version rule."""
        async with self._database.unit_of_work() as uow:
            await self._write(uow.session, change)

    async def indexed_version(self, ref: ContextRef) -> int | None:
        """The version indexed for a live context; None when absent or removed."""
        return await self._version(ref, live_only=True)

    async def latest_version(self, ref: ContextRef) -> int | None:
        """The newest version the index knows of a context, a removal's included."""
        return await self._version(ref, live_only=False)

    async def _version(self, ref: ContextRef, *, live_only: bool) -> int | None:
        statement = sa.select(contexts.c.version).where(
            contexts.c.namespace == ref.namespace, contexts.c.name == ref.name
        )
        if live_only:
            statement = statement.where(sa.not_(contexts.c.deleted))
        row = await self._database.fetch_one(statement)
        return None if row is None else int(row[0])

    async def count(self) -> int:
        """How many live contexts the index holds."""
        statement = sa.select(sa.func.count()).select_from(contexts)
        row = await self._database.fetch_one(statement.where(sa.not_(contexts.c.deleted)))
        return 0 if row is None else int(row[0])

    async def search(self, query: SearchQuery, reader: Reader) -> SearchPage:
        """The page of live contexts matching `query` that `reader` may read, best first."""
        plan = plan_search(query)
        if plan.query.matches_nothing:
            return SearchPage(hits=(), next_cursor=None)

        async def run(connection: AsyncConnection) -> list[SearchHit]:
            if self._dialect == "postgresql":
                return await self._postgres(connection, plan, reader)
            return await self._sqlite(connection, plan, reader)

        return page_of(await self._database.read(run), plan)

    @staticmethod
    async def _postgres(
        connection: AsyncConnection, plan: SearchPlan, reader: Reader
    ) -> list[SearchHit]:
        rows = (await connection.execute(postgres_search(plan, reader))).all()
        return [_hit(row, row.snippet) for row in rows]

    @staticmethod
    async def _sqlite(
        connection: AsyncConnection, plan: SearchPlan, reader: Reader
    ) -> list[SearchHit]:
        rows = (await connection.execute(sqlite_search(plan, reader))).all()
        if not rows:
            return []
        found = await connection.execute(sqlite_snippets(plan, [row.id for row in rows]))
        snippets = {row.id: row.snippet for row in found}
        return [_hit(row, snippets.get(row.id)) for row in rows]
