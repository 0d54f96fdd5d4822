"""The SQL item repository on migrated throwaway databases: SQLite, then the real PostgreSQL.

Items and their events commit together or not at all (the outbox), and the outbox relay,
woken by the commit, publishes the events to a stream: in process, or on Redis.
"""

from typing import Any
from uuid import uuid4

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from prometheus_client import CollectorRegistry
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from search.adapters.sql import (
    ITEM_EVENTS_STREAM,
    SqlItemRepository,
    metadata,
    outbox_events,
)
from search.domain.model import Item, ItemCreated
from slipway.cache import RedisClient
from slipway.db import Database
from slipway.events import (
    Event,
    EventStream,
    InMemoryEventStream,
    Outbox,
    OutboxRelay,
    OutboxSettings,
    RedisEventStream,
)


@pytest.fixture(
    params=["sqlite_database", pytest.param("postgres_database", marks=pytest.mark.integration)],
    ids=["sqlite", "postgres"],
)
def database(request: pytest.FixtureRequest) -> Database:
    """A migrated throwaway database."""
    database: Database = request.getfixturevalue(request.param)
    return database


@pytest.fixture
def outbox() -> Outbox:
    """The service's outbox; the repository and the relay share it (and its commit signal)."""
    return Outbox(outbox_events)


@pytest.fixture
def repository(database: Database, outbox: Outbox) -> SqlItemRepository:
    """A repository on the migrated throwaway database."""
    return SqlItemRepository(database, outbox)


async def test_the_migrations_create_the_tables_the_code_describes(database: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_an_added_item_is_read_back(repository: SqlItemRepository) -> None:
    item = Item(id=uuid4(), name="first")
    await repository.add(item)
    assert await repository.get(item.id) == item
    assert await repository.get(uuid4()) is None


async def test_items_are_listed_by_name_up_to_the_limit(repository: SqlItemRepository) -> None:
    for name in ("cherry", "apple", "banana"):
        await repository.add(Item(id=uuid4(), name=name))
    assert [item.name for item in await repository.list_items(2)] == ["apple", "banana"]


async def unpublished(database: Database, outbox: Outbox) -> list[Event]:
    """The committed events the relay has not published yet, oldest first."""
    async with database.engine.connect() as connection:
        return [pending.event for pending in await outbox.pending(connection, limit=100)]


def created(item: Item) -> ItemCreated:
    return ItemCreated(item_id=item.id, name=item.name)


async def test_an_item_and_its_event_are_committed_together(
    database: Database, outbox: Outbox, repository: SqlItemRepository
) -> None:
    item = Item(id=uuid4(), name="first")
    await repository.add(item, events=[created(item)])
    assert await repository.get(item.id) == item
    [event] = await unpublished(database, outbox)
    assert (event.stream, event.type) == (ITEM_EVENTS_STREAM, "item.created")
    assert event.key == str(item.id)
    assert event.payload == {"item_id": str(item.id), "name": "first"}


async def test_a_failed_add_stores_neither_the_item_nor_its_event(
    database: Database, outbox: Outbox, repository: SqlItemRepository
) -> None:
    item = Item(id=uuid4(), name="first")
    await repository.add(item, events=[created(item)])
    # The same id again: the event row is written, then the item's insert fails the commit.
    duplicate = Item(id=item.id, name="second")
    with pytest.raises(IntegrityError):
        await repository.add(duplicate, events=[created(duplicate)])
    assert await repository.get(item.id) == item
    assert [event.payload["name"] for event in await unpublished(database, outbox)] == ["first"]


async def relayed(
    database: Database, outbox: Outbox, repository: SqlItemRepository, stream: EventStream
) -> None:
    """Add an item with the relay running; its event reaches `stream` at once (no polling)."""
    # A fallback poll longer than the wait: only the commit's wake-up can deliver in time.
    settings = OutboxSettings(poll_interval_seconds=60)
    relay = OutboxRelay(database, outbox, stream, settings=settings, registry=CollectorRegistry())
    item = Item(id=uuid4(), name="first")
    await relay.start()
    try:
        await repository.add(item, events=[created(item)])
        entries = await stream.read(ITEM_EVENTS_STREAM, after=None, limit=10, block_ms=10_000)
    finally:
        await relay.stop()  # lets the round finish: the event is marked published
    [entry] = entries
    assert entry.event.payload == {"item_id": str(item.id), "name": "first"}
    assert await unpublished(database, outbox) == []


async def test_the_relay_publishes_committed_events_to_the_stream(
    database: Database, outbox: Outbox, repository: SqlItemRepository
) -> None:
    await relayed(database, outbox, repository, InMemoryEventStream())


@pytest.mark.integration
async def test_the_relay_publishes_committed_events_to_a_redis_stream(
    database: Database, outbox: Outbox, repository: SqlItemRepository, redis_client: RedisClient
) -> None:
    await relayed(database, outbox, repository, RedisEventStream(redis_client))
