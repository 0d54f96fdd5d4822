"""The items use cases, on whatever adapters the composition root hands in."""

from uuid import UUID, uuid4

from contexts.domain.model import Item, ItemCreated, ItemNotFoundError
from contexts.domain.ports import EventPublisher, ItemRepository

DEFAULT_PAGE_SIZE = 50


class ItemService:
    """Create, get and list items."""

    def __init__(self, repository: ItemRepository, events: EventPublisher) -> None:
        self._repository = repository
        self._events = events

    async def create(self, name: str) -> Item:
        """Create and store an item named `name`."""
        item = Item(id=uuid4(), name=name)
        await self._repository.add(item)
        await self._events.publish(ItemCreated(item_id=item.id, name=item.name))
        return item

    async def get(self, item_id: UUID) -> Item:
        """The item with this id; ItemNotFoundError when there is none."""
        item = await self._repository.get(item_id)
        if item is None:
            raise ItemNotFoundError(item_id)
        return item

    async def list_items(self, limit: int = DEFAULT_PAGE_SIZE) -> list[Item]:
        """Up to `limit` items, ordered by name."""
        return await self._repository.list_items(limit)
