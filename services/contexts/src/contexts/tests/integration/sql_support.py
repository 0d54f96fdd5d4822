"""Helpers for the SQL adapter tests: registries on throwaway databases, row counts."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa

from contexts.adapters.sql import SqlUnitOfWorkFactory
from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.events import ContextChanged
from contexts.domain.service import ContextRegistry
from contexts.migrations import MIGRATIONS_DIR
from contexts.tests.unit.domain.fakes import FixedClock
from slipway.db import Database
from slipway.db.testing import (
    postgres_test_url,
    postgres_unreachable_reason,
    require_server,
    throwaway_postgres_database,
    throwaway_sqlite_database,
)
from slipway.events import Event, Outbox


@dataclass(frozen=True)
class PendingChange:
    """An unpublished outbox row: its position, the lib's envelope and the change in it."""

    position: int
    envelope: Event
    event: ContextChanged


class OutboxRows:
    """The committed outbox as the relay sees it (slipway.events' `Outbox` on a connection)."""

    def __init__(self, database: Database, outbox: Outbox) -> None:
        self._database = database
        self._outbox = outbox

    async def pending(self, limit: int) -> list[PendingChange]:
        """Up to `limit` unpublished events, lowest position first."""
        async with self._database.engine.connect() as connection:
            rows = await self._outbox.pending(connection, limit)
        return [
            PendingChange(row.position, row.event, ContextChanged.model_validate(row.event.payload))
            for row in rows
        ]

    async def mark_published(self, positions: Sequence[int]) -> None:
        """Mark these positions published, as the relay does."""
        async with self._database.engine.begin() as connection:
            await self._outbox.mark_published(connection, positions)


@dataclass
class SqlWorld:
    """A registry on SQL storage, the database under it and the clock it reads."""

    registry: ContextRegistry
    database: Database
    clock: FixedClock
    outbox: OutboxRows


def sql_world(database: Database, *, list_batch_size: int = 3) -> SqlWorld:
    """The real use-cases over the SQL adapters, with a fixed clock and predictable ids."""
    clock = FixedClock()
    ids = count(1)
    uow_factory = SqlUnitOfWorkFactory(database)
    registry = ContextRegistry(
        uow_factory,
        default_kinds(),
        clock,
        new_id=lambda: UUID(int=next(ids)),
        list_batch_size=list_batch_size,
    )
    return SqlWorld(registry, database, clock, OutboxRows(database, uow_factory.outbox))


async def count_rows(database: Database, table: str) -> int:
    """How many rows `table` holds (committed ones)."""
    async with database.sessionmaker() as session:
        found = await session.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
        return int(found or 0)


def postgres_admin_url() -> str:
    """The test PostgreSQL server; skips the test (fails when CI is set) if unreachable."""
    url = postgres_test_url()
    require_server(postgres_unreachable_reason(url))
    return url


@asynccontextmanager
async def migrated_postgres() -> AsyncIterator[Database]:
    """A throwaway PostgreSQL database migrated to head with the service's migrations."""
    async with throwaway_postgres_database(
        postgres_admin_url(), migrations_dir=MIGRATIONS_DIR
    ) as database:
        yield database


@asynccontextmanager
async def migrated_sqlite(directory: Path) -> AsyncIterator[Database]:
    """A throwaway SQLite file migrated to head with the service's migrations."""
    async with throwaway_sqlite_database(directory, migrations_dir=MIGRATIONS_DIR) as database:
        yield database
