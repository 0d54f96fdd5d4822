"""Pool sizing under load: the churn counters, and defaults that open each connection once."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from prometheus_client import Counter
from sqlalchemy import text

from slipway.db import Database, DatabaseSettings
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database

CONCURRENCY = 32
ROUNDS = 4


@asynccontextmanager
async def database_on(
    backend: str, settings: DatabaseSettings, tmp_path: Path, postgres_url: str | None
) -> AsyncIterator[Database]:
    if backend == "postgres":
        assert postgres_url is not None
        async with throwaway_postgres_database(postgres_url, settings=settings) as database:
            yield database
    else:
        async with throwaway_sqlite_database(tmp_path, settings=settings) as database:
            yield database


async def bursts_of_checkouts(database: Database) -> None:
    """ROUNDS times, CONCURRENCY tasks at once each check out a connection and read."""

    async def one() -> None:
        async with database.read_connection() as connection:
            await connection.execute(text("SELECT 1"))

    for _ in range(ROUNDS):
        await asyncio.gather(*(one() for _ in range(CONCURRENCY)))


def counted(counter: Counter, database: Database) -> float:
    """The `_total` sample of `counter` for `database`, 0 before the first increment."""
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels == {"database": database.name}:
                return sample.value
    return 0.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def maybe_postgres_url(backend: str, request: pytest.FixtureRequest) -> str | None:
    """The PostgreSQL URL for the postgres backend (skips when it is unreachable)."""
    if backend != "postgres":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_overflow_connections_churn_under_more_concurrency_than_the_pool(
    backend: str, tmp_path: Path, maybe_postgres_url: str | None
) -> None:
    old = DatabaseSettings(pool_size=5, max_overflow=10)
    async with database_on(backend, old, tmp_path, maybe_postgres_url) as database:
        await bursts_of_checkouts(database)
        opened = counted(database.metrics.connections_opened, database)
        closed = counted(database.metrics.connections_closed, database)
    assert opened > 5 + 10  # overflow connections are opened again in every burst
    assert closed == opened - 5  # and closed on return: only pool_size stay open


async def test_default_pool_opens_each_connection_once_under_load(
    backend: str, tmp_path: Path, maybe_postgres_url: str | None
) -> None:
    settings = DatabaseSettings()
    async with database_on(backend, settings, tmp_path, maybe_postgres_url) as database:
        opened = database.metrics.connections_opened
        await bursts_of_checkouts(database)
        assert counted(opened, database) == settings.pool_size
        await bursts_of_checkouts(database)
        assert counted(opened, database) == settings.pool_size  # none opened after warm-up
        assert counted(database.metrics.connections_closed, database) == 0


def test_defaults_keep_a_fixed_pool_without_pre_ping() -> None:
    settings = DatabaseSettings()
    assert settings.max_overflow == 0
    assert settings.pool_pre_ping is False
    assert settings.pool_size + settings.max_overflow == 15  # the old cap: same max_connections
