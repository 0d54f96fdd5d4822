"""SqlIdempotencyStore meets the IdempotencyStore contract on SQLite and PostgreSQL."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from slipway.db import Database
from slipway.db.idempotency import SqlIdempotencyStore, idempotency_table
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database
from slipway.web.idempotency import Completed, IdempotencyStore, Reserved, StoredResponse
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


@pytest.mark.integration
async def test_stores_on_separate_pools_grant_one_reservation_and_see_its_response(
    postgres_url: str,
) -> None:
    async with throwaway_postgres_database(postgres_url) as first:
        second_url = first.url.render_as_string(hide_password=False)
        settings = first.settings.model_copy(update={"url": SecretStr(second_url)})
        async with Database(settings, name="second", registry=CollectorRegistry()) as second:
            metadata = sa.MetaData()
            table = idempotency_table(metadata, name=f"idem_{uuid.uuid4().hex[:8]}")
            async with first.engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
            stores = [SqlIdempotencyStore(db, table=table) for db in (first, second)]
            claims = await asyncio.gather(
                *(stores[n % 2].reserve("alice", "k", "f", lease_seconds=30) for n in range(30))
            )
            reserved = [claim for claim in claims if isinstance(claim, Reserved)]
            assert len(reserved) == 1
            response = StoredResponse(
                201, (("content-type", "application/json"),), b'{"b":1,"a":2}'
            )
            assert await stores[0].complete(reserved[0], response, ttl_seconds=60)
            assert await stores[1].get("alice", "k") == Completed("f", response)


async def test_purger_deletes_expired_entries_and_keeps_live_ones(tmp_path: Path) -> None:
    clock = ManualClock()
    async with throwaway_sqlite_database(tmp_path) as database:
        store = await _store(database, clock)
        await store.reserve("alice", "old", "f", lease_seconds=1)
        clock.advance(2)
        await store.reserve("alice", "new", "f", lease_seconds=60)
        assert await _rows(database) == 2
        purger = store.purger(every_seconds=0.01)
        await purger.start()
        try:
            for _ in range(500):  # the purger, not this test, must delete the row
                if await _rows(database) == 1:
                    break
                await asyncio.sleep(0.01)
        finally:
            await purger.stop()
        assert await _rows(database) == 1
        assert await store.get("alice", "new") is not None


async def _rows(database: Database) -> int:
    table = idempotency_table(sa.MetaData())
    async with database.engine.connect() as connection:
        count = await connection.execute(sa.select(sa.func.count()).select_from(table))
        return int(count.scalar_one())
