"""Ports: what the domain needs from the outside world, implemented in `adapters/`."""

from typing import Protocol
from uuid import UUID

from contexts.domain.model import DomainEvent, Item


class ItemRepository(Protocol):
    """Where items are kept."""

    async def add(self, item: Item) -> None:
        """Store a new item."""

    async def get(self, item_id: UUID) -> Item | None:
        """The item with this id, or None."""

    async def list_items(self, limit: int) -> list[Item]:
        """Up to `limit` items, ordered by name, then id."""


class EventPublisher(Protocol):
    """Where domain events go once they happened."""

    async def publish(self, event: DomainEvent) -> None:
        """Publish one event."""
