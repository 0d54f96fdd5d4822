"""Database as a Resource: start, stop, SQLite pragmas, pool metrics and transaction counts."""

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import text

from slipway.db import Database, DatabaseSettings
from slipway.web import ReadinessCheck, Resource


def sqlite_settings(tmp_path: Path, **options: object) -> DatabaseSettings:
    url = SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    return DatabaseSettings.model_validate({"url": url, **options})


class BoomError(Exception):
    pass


def test_database_plugs_into_slipway_web(tmp_path: Path) -> None:
    database = Database(sqlite_settings(tmp_path), name="orders")
    assert isinstance(database, Resource)
    assert isinstance(database.readiness_check, ReadinessCheck)
    assert database.readiness_check.name == "orders"


async def test_engine_exists_only_between_start_and_stop(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    database = Database(sqlite_settings(tmp_path), registry=registry)
    with pytest.raises(RuntimeError, match="before start"):
        _ = database.engine
    await database.start()
    await database.readiness_check()
    await database.stop()
    with pytest.raises(RuntimeError, match="before start"):
        _ = database.sessionmaker
    await database.stop()  # twice is harmless


async def test_sqlite_connections_get_the_pragmas(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    settings = sqlite_settings(tmp_path, sqlite_busy_timeout_ms=1234)
    async with Database(settings, registry=registry) as database, database.engine.connect() as c:
        assert (await c.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await c.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await c.execute(text("PRAGMA busy_timeout"))).scalar() == 1234


async def test_pool_gauges_follow_checked_out_connections(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    settings = sqlite_settings(tmp_path, pool_size=3)

    def gauge(name: str) -> float | None:
        return registry.get_sample_value(name, {"database": "metered"})

    async with Database(settings, name="metered", registry=registry) as database:
        assert gauge("db_pool_size") == 3
        assert gauge("db_pool_checked_out_connections") == 0
        async with database.engine.connect() as first, database.engine.connect() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            assert gauge("db_pool_checked_out_connections") == 2
        assert gauge("db_pool_checked_out_connections") == 0
        assert gauge("db_pool_idle_connections") == 2
    assert gauge("db_pool_size") is None  # a stopped database is no longer reported


async def test_transaction_outcomes_are_counted(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    async with Database(sqlite_settings(tmp_path), name="counted", registry=registry) as db:
        async with db.unit_of_work() as uow:
            await uow.session.execute(text("SELECT 1"))
        with pytest.raises(BoomError):
            async with db.unit_of_work():
                raise BoomError

    def count(outcome: str) -> float | None:
        labels = {"database": "counted", "outcome": outcome}
        return registry.get_sample_value("db_transactions_total", labels)

    assert count("commit") == 1
    assert count("rollback") == 1
