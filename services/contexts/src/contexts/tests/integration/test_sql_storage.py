"""The SQL adapters below the use-cases, on SQLite and on the real PostgreSQL: version
conflicts, slipway's idempotency store on the service's table, and the migrations up and down."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from contexts.adapters.sql import SqlUnitOfWorkFactory, metadata
from contexts.adapters.sql.migrate import MigrateOnStartup
from contexts.adapters.sql.tables import idempotency
from contexts.domain.errors import Conflict
from contexts.domain.model import Context
from contexts.domain.versioning import next_version
from contexts.migrations import MIGRATIONS_DIR
from contexts.tests.integration.sql_support import (
    count_rows,
    migrated_postgres,
    migrated_sqlite,
    postgres_admin_url,
)
from contexts.tests.unit.domain.builders import ALICE, KEY, SHARED_ACL
from contexts.tests.unit.domain.fakes import FixedClock
from slipway.db import Database, SqlIdempotencyStore
from slipway.db.migrations import current_revision, downgrade, upgrade, upgrade_sql
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database
from slipway.web.idempotency import Completed, InProgress, Reserved, StoredResponse

TABLES = {
    "audit_log",
    "context_labels",
    "context_versions",
    "contexts_current",
    "slipway_idempotency",
    "slipway_outbox",
}
HEAD = "0004"
NOW = datetime(2025, 1, 1, tzinfo=UTC)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
]


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database migrated to head: a SQLite file, then a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        async with migrated_sqlite(tmp_path) as migrated:
            yield migrated
    else:
        async with migrated_postgres() as migrated:
            yield migrated


@pytest.fixture(params=BACKENDS)
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database no migration has touched yet."""
    if request.param == "sqlite":
        async with throwaway_sqlite_database(tmp_path) as empty:
            yield empty
    else:
        async with throwaway_postgres_database(postgres_admin_url()) as empty:
            yield empty


def _after(previous: Context | None, content: str = "x") -> Context:
    return next_version(
        KEY,
        previous,
        kind="document",
        schema_version=1,
        body={"content": content, "format": "text", "title": None},
        labels={"env": content},
        acl=SHARED_ACL,
        actor=ALICE,
        now=NOW,
    )


async def _append(database: Database, context: Context) -> None:
    async with SqlUnitOfWorkFactory(database)() as uow:
        await uow.contexts.append(context)
        await uow.commit()


# Versions and the current pointer


async def test_a_version_taken_meanwhile_is_a_conflict(database: Database) -> None:
    """Two units of work read version 1; the second to append version 2 gets `Conflict`."""
    first = _after(None)
    await _append(database, first)
    factory = SqlUnitOfWorkFactory(database)
    async with factory() as early, factory() as late:
        assert await early.contexts.get(KEY) == first
        assert await late.contexts.get(KEY) == first
        await early.contexts.append(_after(first, "early"))
        await early.commit()
        with pytest.raises(Conflict, match="version 2 of team-a/runbook is taken"):
            await late.contexts.append(_after(first, "late"))
    async with factory() as uow:
        versions = await uow.contexts.list_versions(KEY)
    assert [(version.version, version.body["content"]) for version in versions] == [
        (1, "x"),
        (2, "early"),
    ]


async def test_only_the_next_version_can_be_appended(database: Database) -> None:
    """Creating twice, skipping a number or starting past 1 are all `Conflict`."""
    first = _after(None)
    await _append(database, first)
    with pytest.raises(Conflict):
        await _append(database, _after(None, "again"))
    skipped = _after(_after(first))  # version 3 while 1 is the latest
    with pytest.raises(Conflict):
        await _append(database, skipped)
    assert await count_rows(database, "context_versions") == 1
    assert await count_rows(database, "contexts_current") == 1


async def test_labels_and_pointer_follow_the_latest_version(database: Database) -> None:
    first = _after(None, "one")
    second = _after(first, "two")
    await _append(database, first)
    await _append(database, second)
    async with database.sessionmaker() as session:
        labels = (await session.execute(sa.text("SELECT key, value FROM context_labels"))).all()
        current = await session.scalar(sa.text("SELECT version FROM contexts_current"))
    assert [tuple(label) for label in labels] == [("env", "two")]
    assert current == 2


async def test_unit_of_work_is_used_inside_async_with_only(database: Database) -> None:
    uow = SqlUnitOfWorkFactory(database)()
    with pytest.raises(RuntimeError, match="outside `async with`"):
        _ = uow.contexts


async def test_leaving_without_commit_discards_the_work(database: Database) -> None:
    async with SqlUnitOfWorkFactory(database)() as uow:
        await uow.contexts.append(_after(None))
    assert await count_rows(database, "context_versions") == 0


# Idempotency keys (slipway.db's store on the table revision 0004 made)


async def test_the_idempotency_store_works_on_the_migrated_table(database: Database) -> None:
    """Of concurrent first requests one reserves; its response is kept and read back as sent."""
    clock = FixedClock(NOW)
    store = SqlIdempotencyStore(database, table=idempotency, clock=lambda: clock.now().timestamp())
    claims = await asyncio.gather(
        *(store.reserve("alice", "key-1", "f" * 64, lease_seconds=60) for _ in range(8))
    )
    reserved = [claim for claim in claims if isinstance(claim, Reserved)]
    assert len(reserved) == 1
    assert all(claim == InProgress("f" * 64) for claim in claims if claim not in reserved)
    response = StoredResponse(201, (("content-type", "application/json"),), b'{"\xc3\xa9":1}')
    assert await store.complete(reserved[0], response, ttl_seconds=3600)
    assert await store.get("alice", "key-1") == Completed("f" * 64, response)
    assert await store.get("bob", "key-1") is None
    assert await count_rows(database, idempotency.name) == 1

    clock.advance(3600)  # expires_at == now: expired, and purged
    assert await store.get("alice", "key-1") is None
    assert await store.purge_expired() == 1
    assert await count_rows(database, idempotency.name) == 0


# Migrations


def _schema(connection: Connection) -> tuple[set[str], list[object]]:
    tables = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
    differences = compare_metadata(MigrationContext.configure(connection), metadata)
    return tables, differences


async def test_migrations_go_up_and_down_and_match_the_tables(empty_database: Database) -> None:
    url = empty_database.url
    assert await current_revision(url, MIGRATIONS_DIR) is None

    await MigrateOnStartup(empty_database).start()
    assert await current_revision(url, MIGRATIONS_DIR) == HEAD
    async with empty_database.engine.connect() as connection:
        tables, differences = await connection.run_sync(_schema)
    assert tables == TABLES
    assert differences == []

    await downgrade(url, MIGRATIONS_DIR, "base")
    assert await current_revision(url, MIGRATIONS_DIR) is None
    async with empty_database.engine.connect() as connection:
        tables, _ = await connection.run_sync(_schema)
        if url.get_backend_name() == "postgresql":
            function = await connection.scalar(
                sa.text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_log_append_only'")
            )
            assert function == 0
    assert tables == set()

    await upgrade(url, MIGRATIONS_DIR)
    assert await current_revision(url, MIGRATIONS_DIR) == HEAD


@pytest.mark.integration
async def test_the_audit_trigger_exists_on_postgresql_only(tmp_path: Path) -> None:
    query = (
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal"
    )
    async with migrated_postgres() as database, database.engine.connect() as connection:
        triggers = (await connection.execute(sa.text(query))).scalars().all()
    assert triggers == ["audit_log_append_only"]
    async with migrated_sqlite(tmp_path) as database, database.engine.connect() as connection:
        sqlite_triggers = (
            (
                await connection.execute(
                    sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                )
            )
            .scalars()
            .all()
        )
    assert sqlite_triggers == []


def test_offline_sql_creates_the_trigger_on_postgresql_only() -> None:
    postgres = upgrade_sql("postgresql://user@localhost/contexts", MIGRATIONS_DIR)
    sqlite = upgrade_sql("sqlite:///contexts.db", MIGRATIONS_DIR)
    for sql in (postgres, sqlite):
        assert "CREATE TABLE context_versions" in sql
        assert "CREATE TABLE audit_log" in sql
    assert "CREATE TRIGGER audit_log_append_only" in postgres
    assert "BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log" in postgres
    assert "TRIGGER" not in sqlite
