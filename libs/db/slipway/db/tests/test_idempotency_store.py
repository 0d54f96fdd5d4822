"""SqlIdempotencyStore meets the IdempotencyStore contract on SQLite and on PostgreSQL."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa

from slipway.db import Database
from slipway.db.idempotency import SqlIdempotencyStore, idempotency_table
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database
from slipway.web.idempotency import IdempotencyStore
from slipway.web.idempotency.testing import IdempotencyStoreContract, ManualClock


async def _store(database: Database, clock: ManualClock) -> SqlIdempotencyStore:
    metadata = sa.MetaData()
    table = idempotency_table(metadata)
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return SqlIdempotencyStore(database, table=table, clock=clock)


class TestSqlIdempotencyStoreOnSqlite(IdempotencyStoreContract):
    @pytest_asyncio.fixture
    async def store(self, tmp_path: Path, clock: ManualClock) -> AsyncIterator[IdempotencyStore]:
        async with throwaway_sqlite_database(tmp_path) as database:
            yield await _store(database, clock)


@pytest.mark.integration
class TestSqlIdempotencyStoreOnPostgres(IdempotencyStoreContract):
    @pytest_asyncio.fixture
    async def store(self, postgres_url: str, clock: ManualClock) -> AsyncIterator[IdempotencyStore]:
        async with throwaway_postgres_database(postgres_url) as database:
            yield await _store(database, clock)
