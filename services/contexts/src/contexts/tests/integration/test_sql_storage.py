"""The SQL adapters below the use-cases, on SQLite and on the real PostgreSQL: version
conflicts, idempotency keys with expiry, and the migrations up and down."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from contexts.adapters.sql import SqlIdempotencyStore, SqlUnitOfWorkFactory, metadata
from contexts.adapters.sql.migrate import MigrateOnStartup
from contexts.domain.errors import Conflict
from contexts.domain.idempotency import StoredResponse
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
from slipway.db import Database
from slipway.db.migrations import current_revision, downgrade, upgrade, upgrade_sql
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database

TABLES = {
    "audit_log",
    "context_labels",
    "context_versions",
    "contexts_current",
    "idempotency_keys",
    "outbox",
}
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


# Idempotency keys


def _response(expires_at: datetime, body: str = '{"ok":true}') -> StoredResponse:
    return StoredResponse(
        request_hash="a" * 64,
        status=201,
        headers={"content-type": "application/json", "etag": '"abc"'},
        body=body,
        expires_at=expires_at,
    )


async def test_idempotency_responses_are_kept_per_key_and_subject(database: Database) -> None:
    clock = FixedClock(NOW)
    store = SqlIdempotencyStore(database, clock=clock)
    response = _response(NOW + timedelta(hours=1))
    await store.put("key-1", "alice", response)
    assert await store.get("key-1", "alice") == response
    assert await store.get("key-1", "bob") is None
    assert await store.get("key-2", "alice") is None

    replaced = _response(NOW + timedelta(hours=2), body="{}")
    await store.put("key-1", "alice", replaced)
    assert await store.get("key-1", "alice") == replaced
    assert await count_rows(database, "idempotency_keys") == 1


async def test_expired_idempotency_responses_are_ignored_and_purged(database: Database) -> None:
    clock = FixedClock(NOW)
    store = SqlIdempotencyStore(database, clock=clock)
    await store.put("short", "alice", _response(NOW + timedelta(minutes=1)))
    await store.put("other", "bob", _response(NOW + timedelta(minutes=1)))
    await store.put("long", "alice", _response(NOW + timedelta(hours=1)))

    clock.advance(60)  # expires_at == now: expired
    assert await store.get("short", "alice") is None
    assert await count_rows(database, "idempotency_keys") == 2  # the read purged its row
    assert await store.purge_expired() == 1  # "other"
    assert await store.get("long", "alice") is not None

    clock.advance(3600)
    await store.put("fresh", "alice", _response(clock.now() + timedelta(minutes=5)))
    assert await count_rows(database, "idempotency_keys") == 1  # a put purges as well
    assert await store.get("fresh", "alice") is not None


async def test_an_expired_key_can_be_used_again(database: Database) -> None:
    clock = FixedClock(NOW)
    store = SqlIdempotencyStore(database, clock=clock)
    await store.put("key", "alice", _response(NOW + timedelta(seconds=1)))
    clock.advance(2)
    renewed = _response(clock.now() + timedelta(minutes=1), body="new")
    await store.put("key", "alice", renewed)
    assert await store.get("key", "alice") == renewed


# Migrations


def _schema(connection: Connection) -> tuple[set[str], list[object]]:
    tables = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
    differences = compare_metadata(MigrationContext.configure(connection), metadata)
    return tables, differences


async def test_migrations_go_up_and_down_and_match_the_tables(empty_database: Database) -> None:
    url = empty_database.url
    assert await current_revision(url, MIGRATIONS_DIR) is None

    await MigrateOnStartup(empty_database).start()
    assert await current_revision(url, MIGRATIONS_DIR) == "0002"
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
    assert await current_revision(url, MIGRATIONS_DIR) == "0002"


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
