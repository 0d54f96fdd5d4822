"""SQL adapters (slipway.db): the items table, its repository, migrations at start-up."""

from uuid import UUID

from sqlalchemy import String, Uuid, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contexts.domain.model import NAME_MAX_LENGTH, Item
from contexts.migrations import MIGRATIONS_DIR
from slipway.db import Database
from slipway.db.migrations import upgrade


class Base(DeclarativeBase):
    """Declarative base of the service's tables (Alembic's target metadata)."""


class ItemRow(Base):
    """A row of `items`."""

    __tablename__ = "items"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))

    def to_item(self) -> Item:
        """The domain item this row holds."""
        return Item(id=self.id, name=self.name)


class SqlItemRepository:
    """Items in the `items` table, one unit of work per call."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def add(self, item: Item) -> None:
        """Insert the item; committed before this returns."""
        async with self._database.unit_of_work() as uow:
            uow.session.add(ItemRow(id=item.id, name=item.name))

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
