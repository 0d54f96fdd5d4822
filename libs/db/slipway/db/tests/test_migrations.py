"""Alembic through slipway.db.migrations: online, offline, up and down, SQLite and PostgreSQL."""

import asyncio
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Connection, TextClause, inspect, text
from sqlalchemy.exc import IntegrityError

from slipway.db import Database, migrations
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


# The sample migrations, with an env.py whose first applied revision holds its transaction
# open until another connection waits on it: whichever of two concurrent upgrades migrates
# first lets the other one reach the point where the race is won or lost.
HOLDING_ENV = """
import time

from sqlalchemy import text

from slipway.db.migrations import run_migrations

BLOCKED_BY_ME = text(
    "SELECT count(*) FROM pg_locks WHERE NOT granted"
    " AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
)


def hold_until_another_waits(ctx, **_):
    deadline = time.monotonic() + 60
    while not ctx.connection.execute(BLOCKED_BY_ME).scalar():
        if time.monotonic() > deadline:
            raise TimeoutError("the other upgrade never waited on this one")
        time.sleep(0.01)


run_migrations(target_metadata=None, on_version_apply=hold_until_another_waits)
"""


def holding_migrations(sample: Path, directory: Path) -> Path:
    """A copy of the `sample` migrations whose env.py is HOLDING_ENV."""
    copy = shutil.copytree(sample, directory / "holding_migrations")
    (copy / "env.py").write_text(HOLDING_ENV, encoding="utf-8")
    return copy


def _upgrade_without_the_lock(url: str, migrations_dir: str) -> None:
    def no_lock(statement: str) -> TextClause:
        if "pg_advisory_xact_lock" in statement:
            return text("SELECT CAST(:key AS bigint)")  # the same round trip, no lock
        return text(statement)

    setattr(migrations, "text", no_lock)  # noqa: B010 - in this spawned process only
    _upgrade_in_a_process(url, migrations_dir)


async def two_upgrades_at_once(
    url: str, migrations_dir: Path, *, lock: bool
) -> list[BaseException | None]:
    """Two upgrades, each in its own process (as workers are); their exceptions."""
    run = _upgrade_in_a_process if lock else _upgrade_without_the_lock
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        loop = asyncio.get_running_loop()
        outcomes = await asyncio.gather(
            *(loop.run_in_executor(pool, run, url, str(migrations_dir)) for _ in range(2)),
            return_exceptions=True,
        )
    return [outcome if isinstance(outcome, BaseException) else None for outcome in outcomes]


@pytest.mark.integration
async def test_two_concurrent_upgrades_race_without_the_migration_lock(
    postgres_url: str, db_migrations_dir: Path, tmp_path: Path
) -> None:
    """What the lock guards against: the second CREATE TABLE fails once the first commits."""
    holding = holding_migrations(db_migrations_dir, tmp_path)
    async with throwaway_postgres_database(postgres_url) as database:
        url = database.url.render_as_string(hide_password=False)
        outcomes = await two_upgrades_at_once(url, holding, lock=False)
        failed = [outcome for outcome in outcomes if outcome is not None]
        assert len(failed) == 1, outcomes
        assert isinstance(failed[0], IntegrityError), failed  # pg_type's key: the same table
        assert await current_revision(database.url, holding) == "0001"  # the first one's


@pytest.mark.integration
async def test_two_concurrent_upgrades_queue_on_the_migration_lock(
    postgres_url: str, db_migrations_dir: Path, tmp_path: Path
) -> None:
    """With the lock the second upgrade waits for the first's commit, then has nothing to do."""
    holding = holding_migrations(db_migrations_dir, tmp_path)
    async with throwaway_postgres_database(postgres_url) as database:
        url = database.url.render_as_string(hide_password=False)
        assert await two_upgrades_at_once(url, holding, lock=True) == [None, None]
        assert await current_revision(database.url, holding) == "0001"
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
