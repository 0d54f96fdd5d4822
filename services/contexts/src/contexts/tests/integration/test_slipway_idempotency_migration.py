"""Revision 0004 on a database written by revision 0003: `idempotency_keys` and its stored
responses go, slipway.db's `slipway_idempotency` comes, and the lib's store works on it; the
downgrade brings the old (empty) table back. SQLite and the real PostgreSQL."""

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from contexts.adapters.sql.tables import idempotency
from contexts.migrations import MIGRATIONS_DIR
from contexts.tests.integration.migration_support import (
    BACKENDS,
    database_at,
    old_idempotency_keys,
)
from contexts.tests.integration.sql_support import count_rows
from slipway.db import Database, SqlIdempotencyStore
from slipway.db.migrations import current_revision, downgrade, upgrade, upgrade_sql
from slipway.web.idempotency import Completed, Reserved, StoredResponse


@pytest.fixture(params=BACKENDS)
async def at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database migrated to revision 0003, one live stored response in `idempotency_keys`."""
    async with database_at(request.param, tmp_path, "0003") as database:
        async with database.engine.begin() as connection:
            await connection.execute(
                sa.insert(old_idempotency_keys).values(
                    key="k1",
                    subject="alice",
                    request_hash="a" * 64,
                    status=201,
                    headers={"content-type": "application/json"},
                    body="{}",
                    created_at=datetime.now(UTC),
                    expires_at=datetime(2999, 1, 1, tzinfo=UTC),
                )
            )
        yield database


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))


async def test_upgrade_replaces_the_table_and_the_store_works_on_it(at_0003: Database) -> None:
    await upgrade(at_0003.url, MIGRATIONS_DIR, "0004")

    assert await current_revision(at_0003.url, MIGRATIONS_DIR) == "0004"
    tables = await _tables(at_0003)
    assert "idempotency_keys" not in tables
    assert idempotency.name in tables
    assert await count_rows(at_0003, idempotency.name) == 0  # the 24 h cache is not carried
    store = SqlIdempotencyStore(at_0003, table=idempotency)
    claim = await store.reserve("alice", "k1", "f" * 64, lease_seconds=60)
    assert isinstance(claim, Reserved)  # the old key is free: the retry runs again
    response = StoredResponse(201, (("etag", '"e"'),), "é".encode())
    assert await store.complete(claim, response, ttl_seconds=60)
    assert await store.get("alice", "k1") == Completed("f" * 64, response)
    assert await store.purge_expired() == 0
    expired = SqlIdempotencyStore(at_0003, table=idempotency, clock=lambda: time.time() + 61)
    assert await expired.purge_expired() == 1


async def test_downgrade_brings_back_the_old_empty_table(at_0003: Database) -> None:
    await upgrade(at_0003.url, MIGRATIONS_DIR, "0004")
    await downgrade(at_0003.url, MIGRATIONS_DIR, "0003")

    assert await current_revision(at_0003.url, MIGRATIONS_DIR) == "0003"
    tables = await _tables(at_0003)
    assert idempotency.name not in tables
    assert await count_rows(at_0003, "idempotency_keys") == 0
    await upgrade(at_0003.url, MIGRATIONS_DIR, "0004")  # and up again
    assert await count_rows(at_0003, idempotency.name) == 0


def test_the_offline_script_swaps_the_tables_on_both_backends() -> None:
    for url in ("postgresql://user@localhost/contexts", "sqlite:///contexts.db"):
        script = upgrade_sql(url, MIGRATIONS_DIR)
        assert f"CREATE TABLE {idempotency.name}" in script
        assert "DROP TABLE idempotency_keys" in script
