"""slipway.db.testing: throwaway databases really are dropped, even when the test fails."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from slipway.db import Database, async_url
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database


async def database_exists(postgres_url: str, name: str) -> bool:
    engine = create_async_engine(async_url(postgres_url), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            query = text("SELECT count(*) FROM pg_database WHERE datname = :name")
            found = (await connection.execute(query, {"name": name})).scalar_one()
    finally:
        await engine.dispose()
    return bool(found)


def files_in(directory: Path) -> list[Path]:
    return list(directory.iterdir())


class BoomError(Exception):
    pass


@pytest.mark.integration
async def test_postgres_database_is_dropped_afterwards(postgres_url: str) -> None:
    async with throwaway_postgres_database(postgres_url) as database:
        name = database.url.database
        assert name is not None
        assert name.startswith("slipway_test_")
        assert await database_exists(postgres_url, name)
    assert not await database_exists(postgres_url, name)


@pytest.mark.integration
async def test_postgres_database_is_dropped_when_the_test_fails(postgres_url: str) -> None:
    names: list[str | None] = []

    async def failing_test() -> None:
        async with throwaway_postgres_database(postgres_url) as database:
            names.append(database.url.database)
            raise BoomError

    with pytest.raises(BoomError):
        await failing_test()
    assert names[0] is not None
    assert not await database_exists(postgres_url, names[0])


@pytest.mark.integration
async def test_plugin_fixture_gives_a_migrated_database(postgres_database: Database) -> None:
    async with postgres_database.unit_of_work() as uow:
        assert (await uow.session.execute(text("SELECT count(*) FROM notes"))).scalar() == 0


async def test_sqlite_file_is_deleted_afterwards(tmp_path: Path) -> None:
    async with throwaway_sqlite_database(tmp_path) as database:
        async with database.unit_of_work() as uow:
            await uow.session.execute(text("CREATE TABLE t (x int)"))
        assert files_in(tmp_path)
    assert files_in(tmp_path) == []
