"""In-memory adapters: the embedded defaults, and what the unit and API tests run on."""

from collections.abc import Sequence
from uuid import UUID

from search.domain.model import DomainEvent, Item


class InMemoryItemRepository:
    """Items in a dict, their events in a list: gone when the process ends."""

    def __init__(self) -> None:
        self._items: dict[UUID, Item] = {}
        self.events: list[DomainEvent] = []

    async def add(self, item: Item, events: Sequence[DomainEvent] = ()) -> None:
        """Store a new item and keep its events in `events`, in order."""
        self._items[item.id] = item
        self.events.extend(events)

    async def get(self, item_id: UUID) -> Item | None:
        """The item with this id, or None."""
        return self._items.get(item_id)

    async def list_items(self, limit: int) -> list[Item]:
        """Up to `limit` items, ordered by name, then id."""
        ordered = sorted(self._items.values(), key=lambda item: (item.name, str(item.id)))
        return ordered[:limit]
