"""Items through Redis, on the machine's Redis under a throwaway key prefix."""

from uuid import uuid4

import pytest

from search.adapters.memory import InMemoryItemRepository
from search.adapters.redis_items import CachedItemRepository
from search.domain.model import Item
from slipway.cache import RedisClient

pytestmark = pytest.mark.integration


async def test_a_cached_item_is_served_from_redis(redis_client: RedisClient) -> None:
    inner = InMemoryItemRepository()
    item = Item(id=uuid4(), name="first")
    await CachedItemRepository(inner, redis_client).add(item)
    assert await CachedItemRepository(inner, redis_client).get(item.id) == item
    # A fresh inner store: the item can only come from Redis now.
    assert await CachedItemRepository(InMemoryItemRepository(), redis_client).get(item.id) == item


async def test_adding_an_item_replaces_a_cached_miss(redis_client: RedisClient) -> None:
    repository = CachedItemRepository(InMemoryItemRepository(), redis_client)
    item = Item(id=uuid4(), name="late")
    assert await repository.get(item.id) is None
    await repository.add(item)
    assert await repository.get(item.id) == item
