"""Redis adapters (slipway.cache) for items: a read-through cache in front of the database."""

from collections.abc import Sequence
from uuid import UUID

from pydantic import TypeAdapter

from search.domain.model import DomainEvent, Item
from search.domain.ports import ItemRepository
from slipway.cache import ReadThroughCache, RedisClient

CACHE_TTL_SECONDS = 300


class CachedItemRepository:
    """Another repository with `get` cached in Redis (misses cached too, until an add)."""

    def __init__(
        self, inner: ItemRepository, client: RedisClient, ttl_seconds: float = CACHE_TTL_SECONDS
    ) -> None:
        self._inner = inner
        value_type: TypeAdapter[Item | None] = TypeAdapter(Item | None)
        self._cache = ReadThroughCache(
            client, value_type, namespace="items", ttl_seconds=ttl_seconds
        )

    async def add(self, item: Item, events: Sequence[DomainEvent] = ()) -> None:
        """Store the item and its events in the inner repository; drop a cached miss for it."""
        await self._inner.add(item, events)
        await self._cache.invalidate(str(item.id))

    async def get(self, item_id: UUID) -> Item | None:
        """The item with this id, from Redis when cached, else from the inner repository."""
        return await self._cache.get_or_load(str(item_id), lambda: self._inner.get(item_id))

    async def list_items(self, limit: int) -> list[Item]:
        """Up to `limit` items, from the inner repository (lists are not cached)."""
        return await self._inner.list_items(limit)
