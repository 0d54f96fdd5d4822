"""The items use cases, on whatever adapters the composition root hands in."""

from uuid import UUID, uuid4

from search.domain.model import Item, ItemCreated, ItemNotFoundError
from search.domain.ports import ItemRepository

DEFAULT_PAGE_SIZE = 50


class ItemService:
    """Create, get and list items."""

    def __init__(self, repository: ItemRepository) -> None:
        self._repository = repository

    async def create(self, name: str) -> Item:
        """Create and store an item named `name`, with its ItemCreated event."""
        item = Item(id=uuid4(), name=name)
        await self._repository.add(item, events=(ItemCreated(item_id=item.id, name=item.name),))
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
