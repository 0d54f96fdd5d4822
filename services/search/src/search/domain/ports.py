"""Ports: what the domain needs from the outside world, implemented in `adapters/`."""

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from search.domain.model import DomainEvent, Item


class ItemRepository(Protocol):
    """Where items are kept."""

    async def add(self, item: Item, events: Sequence[DomainEvent] = ()) -> None:
        """Store a new item and the events its creation raised: all of them or none."""

    async def get(self, item_id: UUID) -> Item | None:
        """The item with this id, or None."""

    async def list_items(self, limit: int) -> list[Item]:
        """Up to `limit` items, ordered by name, then id."""
