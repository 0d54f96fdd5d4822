"""SQL adapters (slipway.db): items, their outbox, idempotency keys, the repository, migrations."""

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import Index, String, Uuid, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from search.domain.model import NAME_MAX_LENGTH, DomainEvent, Item
from search.migrations import MIGRATIONS_DIR
from slipway.db import Database, idempotency_table
from slipway.db.migrations import upgrade
from slipway.events import Event, Outbox, outbox_table


class Base(DeclarativeBase):
    """Declarative base of the service's tables."""


# Every table of the service: what migrations/env.py compares the migrations with.
metadata = Base.metadata
# slipway.db's idempotency keys (`slipway_idempotency`): reservations and stored responses of
# requests under an `Idempotency-Key`, shared by every instance.
idempotency_keys = idempotency_table(metadata)
# slipway.events' outbox (`slipway_outbox`): events wait here, in the transaction of the change
# that raised them, until the relay has published them.
outbox_events = outbox_table(metadata)
# The stream item events are published to.
ITEM_EVENTS_STREAM = "items"


class ItemRow(Base):
    """A row of `items`."""

    __tablename__ = "items"
    # Listing by name (migration 0001 creates it).
    __table_args__ = (Index("ix_items_name_id", "name", "id"),)

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))

    def to_item(self) -> Item:
        """The domain item this row holds."""
        return Item(id=self.id, name=self.name)


class SqlItemRepository:
    """Items in the `items` table, one unit of work per call."""

    def __init__(self, database: Database, outbox: Outbox) -> None:
        self._database = database
        self._outbox = outbox

    async def add(self, item: Item, events: Sequence[DomainEvent] = ()) -> None:
        """Insert the item and its events into the outbox in one transaction."""
        async with self._database.unit_of_work() as uow:
            uow.session.add(ItemRow(id=item.id, name=item.name))
            await self._outbox.add(uow.session, *(item_event(item, event) for event in events))

    async def get(self, item_id: UUID) -> Item | None:
        """The item with this id, or None."""
        async with self._database.sessionmaker() as session:
            row = await session.get(ItemRow, item_id)
            return None if row is None else row.to_item()

    async def list_items(self, limit: int) -> list[Item]:
        """Up to `limit` items, ordered by name, then id."""
        query = select(ItemRow).order_by(ItemRow.name, ItemRow.id).limit(limit)
        async with self._database.sessionmaker() as session:
            return [row.to_item() for row in await session.scalars(query)]


def item_event(item: Item, event: DomainEvent) -> Event:
    """The outbox envelope of an item's domain event, keyed by the item (ordered per item)."""
    return Event(
        stream=ITEM_EVENTS_STREAM,
        type=event.event_type,
        payload=event.model_dump(mode="json"),
        key=str(item.id),
    )


class MigrateOnStartup:
    """A slipway.web resource that migrates the database to the newest revision at start-up."""

    name = "migrations"

    def __init__(self, database: Database) -> None:
        self._database = database

    async def start(self) -> None:
        """Run the Alembic migrations up to head."""
        await upgrade(self._database.url, MIGRATIONS_DIR)

    async def stop(self) -> None:
        """Nothing to close."""
