"""In-memory adapters: the embedded defaults, and what the unit and API tests run on."""

from uuid import UUID

from contexts.domain.model import DomainEvent, Item


class InMemoryItemRepository:
    """Items in a dict: gone when the process ends."""

    def __init__(self) -> None:
        self._items: dict[UUID, Item] = {}

    async def add(self, item: Item) -> None:
        """Store a new item."""
        self._items[item.id] = item

    async def get(self, item_id: UUID) -> Item | None:
        """The item with this id, or None."""
        return self._items.get(item_id)

    async def list_items(self, limit: int) -> list[Item]:
        """Up to `limit` items, ordered by name, then id."""
        ordered = sorted(self._items.values(), key=lambda item: (item.name, str(item.id)))
        return ordered[:limit]


class InMemoryEventPublisher:
    """Keeps every published event in `published`, in order."""

    def __init__(self) -> None:
        self.published: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        """Record the event."""
        self.published.append(event)
