"""The items use cases on the in-memory adapters: no I/O, no framework."""

from uuid import uuid4

import pytest

from search.adapters import memory
from search.domain.model import ItemCreated, ItemNotFoundError
from search.domain.service import ItemService


def make_service() -> ItemService:
    return ItemService(memory.InMemoryItemRepository())


async def test_a_created_item_can_be_fetched_by_its_id() -> None:
    service = make_service()
    created = await service.create("first")
    assert await service.get(created.id) == created


async def test_an_unknown_id_raises_item_not_found() -> None:
    missing = uuid4()
    with pytest.raises(ItemNotFoundError) as raised:
        await make_service().get(missing)
    assert raised.value.item_id == missing


async def test_items_are_listed_by_name_up_to_the_limit() -> None:
    service = make_service()
    for name in ("cherry", "apple", "banana"):
        await service.create(name)
    assert [item.name for item in await service.list_items(2)] == ["apple", "banana"]


async def test_creating_an_item_stores_item_created_with_it() -> None:
    repository = memory.InMemoryItemRepository()
    item = await ItemService(repository).create("first")
    assert repository.events == [ItemCreated(item_id=item.id, name="first")]
