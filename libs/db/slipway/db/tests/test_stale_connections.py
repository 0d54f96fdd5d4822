"""Stale connections on the real PostgreSQL, with no pre-ping: replaced, or the read retried."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from slipway.db import Database, DatabaseSettings, async_url
from slipway.db.testing import throwaway_postgres_database

pytestmark = pytest.mark.integration

POOL_SIZE = 3


async def fill_the_pool(database: Database) -> None:
    """Open every pooled connection (POOL_SIZE checked out at once), then return them."""

    async def hold() -> None:
        async with database.read_connection() as connection:
            await connection.execute(text("SELECT 1"))
            await asyncio.sleep(0.01)

    await asyncio.gather(*(hold() for _ in range(POOL_SIZE)))


TERMINATE = text(
    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
    "WHERE application_name = :application AND datname = :database"
)


async def terminate_backends(postgres_url: str, database: Database) -> int:
    """Kill every backend of `database`'s pool, waiting until each has exited."""
    admin = create_async_engine(async_url(postgres_url), poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            params = {"application": database.service_name, "database": database.url.database}
            return int((await connection.execute(TERMINATE, params)).scalar_one())
    finally:
        await admin.dispose()


def value(database: Database, counter_name: str, **labels: str) -> float:
    counter = getattr(database.metrics, counter_name)
    for metric in counter.collect():
        for sample in metric.samples:
            wanted = {"database": database.name, **labels}
            if sample.name.endswith("_total") and sample.labels == wanted:
                return float(sample.value)
    return 0.0


@pytest.fixture
async def pooled(postgres_url: str) -> AsyncIterator[Database]:
    """A started database whose POOL_SIZE connections are open and idle; no pre-ping."""
    settings = DatabaseSettings(pool_size=POOL_SIZE, pool_pre_ping=False)
    async with throwaway_postgres_database(postgres_url, settings=settings) as database:
        await fill_the_pool(database)
        yield database


async def test_reads_succeed_after_every_backend_was_terminated(
    postgres_url: str, pooled: Database
) -> None:
    assert await terminate_backends(postgres_url, pooled) == POOL_SIZE
    async with pooled.read_connection() as connection:
        assert (await connection.execute(text("SELECT 1"))).scalar() == 1
    await pooled.ping()
    async with pooled.unit_of_work() as uow:  # a write path too: no retry needed
        assert (await uow.session.execute(text("SELECT 2"))).scalar() == 2
    assert value(pooled, "connections_invalidated", kind="hard") >= 3  # each one replaced


async def test_read_is_rerun_once_after_a_disconnect(pooled: Database) -> None:
    attempts: list[int] = []

    async def dies_the_first_time(connection: AsyncConnection) -> int:
        attempts.append(1)
        if len(attempts) == 1:  # the connection dies under the statement, unseen at checkout
            await connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return int((await connection.execute(text("SELECT 42"))).scalar_one())

    assert await pooled.read(dies_the_first_time) == 42
    assert len(attempts) == 2
    assert value(pooled, "read_retries") == 1


async def test_read_is_not_rerun_after_a_second_disconnect(pooled: Database) -> None:
    attempts: list[int] = []

    async def always_dies(connection: AsyncConnection) -> None:
        attempts.append(1)
        await connection.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))

    with pytest.raises(DBAPIError) as raised:
        await pooled.read(always_dies)
    assert raised.value.connection_invalidated
    assert len(attempts) == 2


async def test_read_is_not_rerun_after_an_ordinary_error(pooled: Database) -> None:
    attempts: list[int] = []

    async def fails(connection: AsyncConnection) -> None:
        attempts.append(1)
        await connection.execute(text("SELECT 1 / 0"))

    with pytest.raises(DBAPIError):
        await pooled.read(fails)
    assert len(attempts) == 1
