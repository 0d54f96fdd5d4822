"""Alembic through slipway.db.migrations: online, offline, up and down, SQLite and PostgreSQL."""

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect

from slipway.db import Database
from slipway.db.migrations import current_revision, downgrade, upgrade, upgrade_sql
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database


async def tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(_table_names))


def _table_names(connection: Connection) -> list[str]:
    return list(inspect(connection).get_table_names())


async def test_fixture_database_is_migrated(database: Database, db_migrations_dir: Path) -> None:
    assert {"notes", "alembic_version"} <= await tables(database)
    assert await current_revision(database.url, db_migrations_dir) == "0001"


async def test_downgrade_then_upgrade_again(database: Database, db_migrations_dir: Path) -> None:
    await downgrade(database.url, db_migrations_dir, "base")
    assert "notes" not in await tables(database)
    assert await current_revision(database.url, db_migrations_dir) is None
    await upgrade(database.url, db_migrations_dir)
    assert "notes" in await tables(database)


@pytest.mark.integration
async def test_upgrade_an_empty_postgres_database(
    postgres_url: str, db_migrations_dir: Path
) -> None:
    async with throwaway_postgres_database(postgres_url) as database:
        assert await tables(database) == set()
        assert await current_revision(database.url, db_migrations_dir) is None
        await upgrade(database.url, db_migrations_dir, "0001")
        assert await current_revision(database.url, db_migrations_dir) == "0001"


def _upgrade_in_a_process(url: str, migrations_dir: str) -> None:
    asyncio.run(upgrade(url, migrations_dir))


@pytest.mark.integration
async def test_concurrent_upgrades_of_an_empty_postgres_database_queue(
    postgres_url: str, db_migrations_dir: Path
) -> None:
    """Workers migrating at start-up (`web.workers`) wait for each other instead of racing."""
    async with throwaway_postgres_database(postgres_url) as database:
        url = database.url.render_as_string(hide_password=False)
        spawn = multiprocessing.get_context("spawn")  # processes, as workers are
        with ProcessPoolExecutor(max_workers=3, mp_context=spawn) as pool:
            loop = asyncio.get_running_loop()
            runs = [
                loop.run_in_executor(pool, _upgrade_in_a_process, url, str(db_migrations_dir))
                for _ in range(3)
            ]
            await asyncio.gather(*runs)
        assert await current_revision(database.url, db_migrations_dir) == "0001"
        assert "notes" in await tables(database)


async def test_upgrade_an_empty_sqlite_file(tmp_path: Path, db_migrations_dir: Path) -> None:
    async with throwaway_sqlite_database(tmp_path) as database:
        await upgrade(database.url, db_migrations_dir)
        assert "notes" in await tables(database)


def test_offline_mode_writes_sql_without_connecting(db_migrations_dir: Path) -> None:
    # Nothing listens on this address: offline mode must not try.
    sql = upgrade_sql("postgresql://app:pw@10.255.255.1:1/app", db_migrations_dir)
    assert "CREATE TABLE alembic_version" in sql
    assert "CREATE TABLE notes" in sql
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001')" in sql
    assert sql.rstrip().endswith("COMMIT;")
