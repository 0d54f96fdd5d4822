"""`SqlSearchIndex`: the `SearchIndex` port on slipway.db, PostgreSQL or SQLite.

Writes are one upsert per change, `INSERT ... ON CONFLICT (namespace, name) DO UPDATE ...
WHERE stored.version < new.version`: atomic on both backends, so of two concurrent writers
of one context the newer version wins whatever the order, and an older or repeated change
changes nothing. A `Removal` is stored as a tombstone (no text, no ACL) that keeps its
version. `apply` records the event id (slipway.events' `first_delivery`) in the same
transaction as the upsert: a repeated event is recognised and changes nothing.

Backfill generations (migration 0003) let a backfill remove what contexts no longer has:
`begin_backfill` starts generation `g` (a `search_backfills` row); every write stamps the row
with the generation current in its own statement, and `put` (the backfill's) stamps a row it
leaves unchanged too (the catalog listed it); so when the pass is complete,
`remove_unlisted(g)` tombstones exactly the live rows neither listed by it nor written since
it began.
"""

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from search.adapters.sql.queries import (
    SQLITE_SNIPPETS,
    Shape,
    postgres_statement,
    search_parameters,
    sqlite_statement,
)
from search.adapters.sql.tables import backfills, contexts, processed_events
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
from slipway.db.reads import fetch_rows
from slipway.events import Event, first_delivery
from slipway.events.table import EVENT_ID_LENGTH

# The longest text indexed per context (PostgreSQL's tsvector has a 1 MB bound); the rest
# of a longer body is not searchable.
MAX_INDEXED_TEXT = 100_000
DEFAULT_CONSUMER = "search"
CONTEXT_EVENTS_STREAM = "contexts"
_UPDATED = (
    *("version", "deleted", "kind", "labels", "labels_text"),
    *("owner", "readers", "writers", "text", "updated_at", "generation"),
)
_KEY = ("namespace", "name", "version")
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


def current_generation() -> sa.ScalarSelect[Any]:
    """The current backfill generation, read by the statement that uses it: the newest
    backfill's id, 0 before the first."""
    return sa.select(sa.func.coalesce(sa.func.max(backfills.c.id), 0)).scalar_subquery()


def _mark_listed(ref: ContextRef) -> sa.Executable:
    """Stamp a row the catalog listed but `put` left unchanged (the version rule) with the
    current generation: only `generation` is set (SQLite's full-text trigger ignores it)."""
    generation = current_generation()
    return (
        sa.update(contexts)
        .where(contexts.c.namespace == ref.namespace, contexts.c.name == ref.name)
        .where(contexts.c.generation < generation)
        .values(generation=generation)
    )


def _upsert(dialect: str, change: Change) -> sa.Executable:
    values = {**row_values(change), "generation": current_generation()}
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

    async def _write(self, session: AsyncSession, change: Change) -> bool:
        """Upsert under the version rule; whether the row was written (False: it holds this
        version or a newer one)."""
        if not isinstance(change, IndexedContext | Removal):
            raise TypeError(f"not a change: {change!r}")
        result = await session.execute(_upsert(self._dialect, change))
        return bool(getattr(result, "rowcount", 0))

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
        """Apply a change without an event (a backfill), under the same version rule; a row
        it leaves unchanged is still marked listed in the current generation."""
        async with self._database.unit_of_work() as uow:
            if not await self._write(uow.session, change):
                await uow.session.execute(_mark_listed(change.ref))

    async def keep(self, ref: ContextRef) -> None:
        """The catalog listed `ref` but it cannot be indexed (malformed): keep its row, as it
        is, out of this backfill's removals."""
        async with self._database.unit_of_work() as uow:
            await uow.session.execute(_mark_listed(ref))

    async def begin_backfill(self) -> int:
        """Start a backfill: its generation, current for every write from now on."""
        statement = sa.insert(backfills).values(started_at=datetime.now(UTC))
        async with self._database.unit_of_work() as uow:
            result = await uow.session.execute(statement.returning(backfills.c.id))
            return int(result.scalar_one())

    async def remove_unlisted(self, generation: int) -> int:
        """After backfill `generation` put every item of a complete catalog pass: tombstone
        the live rows still stamped below it; how many.

        Such a row was neither listed by the pass nor written by any statement that began
        after the backfill began (those read `generation` or a newer one), so contexts did
        not have the context when the pass read that part of the catalog, and anything it
        did since is an event after the backfill's starting position. The tombstone keeps
        the row's version: a late write of that version cannot bring it back, a context
        created again has a newer one. One statement: on PostgreSQL a row an event is
        writing meanwhile is re-checked once that write commits, and spared."""
        tombstone = {
            column: value
            for column, value in row_values(Removal(ContextRef("", ""), 0)).items()
            if column not in _KEY
        }
        statement = (
            sa.update(contexts)
            .where(sa.not_(contexts.c.deleted), contexts.c.generation < generation)
            .values(**tombstone, generation=current_generation())
        )
        async with self._database.unit_of_work() as uow:
            result = await uow.session.execute(statement)
            removed = int(getattr(result, "rowcount", 0))
            await uow.session.execute(
                sa.update(backfills)
                .where(backfills.c.id == generation)
                .values(finished_at=datetime.now(UTC), removed=removed)
            )
        return removed

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

        shape = Shape.of(plan, reader)
        params = search_parameters(plan, reader, sqlite=self._dialect != "postgresql")
        if self._dialect == "postgresql":
            # One prebuilt statement per shape: compiled once, sent by asyncpg itself (its
            # prepared-statement cache), no SQLAlchemy execution per search.
            rows = await self._database.fetch_all(postgres_statement(shape), params)
            return page_of([_hit(row, row.snippet) for row in rows], plan)

        async def run(connection: AsyncConnection) -> list[SearchHit]:
            return await self._sqlite(connection, plan, shape, params)

        return page_of(await self._database.read(run), plan)

    @staticmethod
    async def _sqlite(
        connection: AsyncConnection, plan: SearchPlan, shape: Shape, params: dict[str, Any]
    ) -> list[SearchHit]:
        rows = await fetch_rows(connection, sqlite_statement(shape), params)
        if not rows:
            return []
        snippet_params = {"query": params["query"], "ids": json.dumps([row.id for row in rows])}
        found = await fetch_rows(connection, SQLITE_SNIPPETS, snippet_params)
        snippets = {row.id: row.snippet for row in found}
        return [_hit(row, snippets.get(row.id)) for row in rows]
