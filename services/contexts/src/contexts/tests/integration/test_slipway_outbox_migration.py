"""Revision 0003 on a database written by revision 0002: the unpublished events move to
slipway.events' `slipway_outbox` with their identity, the old `outbox` goes, and the lib's
relay publishes what moved; the downgrade moves them back. SQLite and the real PostgreSQL."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contexts.adapters.sql import change_outbox
from contexts.adapters.sql.tables import outbox as slipway_outbox
from contexts.migrations import MIGRATIONS_DIR
from contexts.tests.integration.migration_support import BACKENDS, database_at, old_outbox
from slipway.db import Database
from slipway.db.migrations import current_revision, downgrade, upgrade, upgrade_sql
from slipway.events import InMemoryEventStream, OutboxRelay, OutboxSettings, StreamEntry

CREATED = datetime(2025, 1, 1, 12, 30, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database migrated to revision 0002 only."""
    async with database_at(request.param, tmp_path, "0002") as database:
        yield database


def _change(name: str, version: int) -> dict[str, Any]:
    return {
        "type": "context.changed",
        "event_id": str(uuid.uuid4()),
        "namespace": "team-a",
        "name": name,
        "version": version,
        "action": "created" if version == 1 else "updated",
        "etag": f'"{uuid.uuid4().hex}"',
        "occurred_at": CREATED.isoformat(),
        "actor": "alice",
    }


async def _write_old_events(database: Database) -> list[dict[str, Any]]:
    """Four events in the old outbox: the first published, three waiting."""
    changes = [_change("alpha", 1), _change("alpha", 2), _change("bravo", 1), _change("alpha", 3)]
    rows = [
        {
            "namespace": change["namespace"],
            "name": change["name"],
            "version": change["version"],
            "payload": change,
            "created_at": CREATED,
            "published_at": CREATED if index == 0 else None,
        }
        for index, change in enumerate(changes)
    ]
    async with database.engine.begin() as connection:
        await connection.execute(sa.insert(old_outbox), rows)
    return changes


async def _tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))


async def test_unpublished_events_move_to_the_slipway_outbox_with_their_ids(
    at_0002: Database,
) -> None:
    changes = await _write_old_events(at_0002)

    await upgrade(at_0002.url, MIGRATIONS_DIR, "0003")

    assert "outbox" not in await _tables(at_0002)
    async with at_0002.engine.connect() as connection:
        pending = await change_outbox().pending(connection, 10)
    assert [row.event.id for row in pending] == [change["event_id"] for change in changes[1:]]
    assert [(row.event.stream, row.event.key, row.event.type) for row in pending] == [
        ("team-a", "alpha", "context.changed"),
        ("team-a", "bravo", "context.changed"),
        ("team-a", "alpha", "context.changed"),
    ]
    assert [dict(row.event.payload) for row in pending] == changes[1:]
    assert {row.event.occurred_at for row in pending} == {CREATED}


async def test_the_relay_publishes_the_moved_events(at_0002: Database) -> None:
    changes = await _write_old_events(at_0002)
    await upgrade(at_0002.url, MIGRATIONS_DIR, "0003")
    stream = InMemoryEventStream()
    relay = OutboxRelay(at_0002, change_outbox(), stream, settings=OutboxSettings())

    await relay.start()
    entries: list[StreamEntry] = []
    try:
        async with asyncio.timeout(5):
            while len(entries) < 3:
                after = entries[-1].entry_id if entries else None
                entries += await stream.read("team-a", after=after, limit=10, block_ms=1_000)
    finally:
        await relay.stop()

    assert [entry.event.id for entry in entries] == [change["event_id"] for change in changes[1:]]


async def test_downgrade_moves_the_unpublished_events_back(at_0002: Database) -> None:
    changes = await _write_old_events(at_0002)
    await upgrade(at_0002.url, MIGRATIONS_DIR, "0003")

    await downgrade(at_0002.url, MIGRATIONS_DIR, "0002")

    assert await current_revision(at_0002.url, MIGRATIONS_DIR) == "0002"
    assert slipway_outbox.name not in await _tables(at_0002)
    async with at_0002.engine.connect() as connection:
        rows = (
            await connection.execute(sa.select(old_outbox).order_by(old_outbox.c.position))
        ).all()
    assert [(row.name, row.version, row.published_at) for row in rows] == [
        ("alpha", 2, None),
        ("bravo", 1, None),
        ("alpha", 3, None),
    ]
    assert [row.payload for row in rows] == changes[1:]
    assert {row.created_at for row in rows} == {CREATED}
    await upgrade(at_0002.url, MIGRATIONS_DIR, "0003")  # and up again
    assert await current_revision(at_0002.url, MIGRATIONS_DIR) == "0003"


def test_the_offline_script_moves_the_events_in_sql() -> None:
    for url in ("postgresql://user@localhost/contexts", "sqlite:///contexts.db"):
        script = upgrade_sql(url, MIGRATIONS_DIR)
        assert "CREATE TABLE slipway_outbox" in script
        assert "INSERT INTO slipway_outbox" in script
        assert "DROP TABLE outbox" in script
