"""Helpers for the SQL adapter tests: registries on throwaway databases, row counts."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from uuid import UUID

import sqlalchemy as sa

from contexts.adapters.sql import SqlOutboxSource, SqlUnitOfWorkFactory
from contexts.domain.builtin_kinds import default_kinds
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


@dataclass
class SqlWorld:
    """A registry on SQL storage, the database under it and the clock it reads."""

    registry: ContextRegistry
    database: Database
    clock: FixedClock
    outbox: SqlOutboxSource


def sql_world(database: Database, *, list_batch_size: int = 3) -> SqlWorld:
    """The real use-cases over the SQL adapters, with a fixed clock and predictable ids."""
    clock = FixedClock()
    ids = count(1)
    registry = ContextRegistry(
        SqlUnitOfWorkFactory(database),
        default_kinds(),
        clock,
        new_id=lambda: UUID(int=next(ids)),
        list_batch_size=list_batch_size,
    )
    return SqlWorld(registry, database, clock, SqlOutboxSource(database, clock=clock))


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
