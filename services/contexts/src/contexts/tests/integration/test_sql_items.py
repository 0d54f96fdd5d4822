"""The SQL item repository on migrated throwaway databases: SQLite, then the real PostgreSQL."""

from uuid import uuid4

import pytest

from contexts.adapters.sql import SqlItemRepository
from contexts.domain.model import Item
from slipway.db import Database


@pytest.fixture(
    params=["sqlite_database", pytest.param("postgres_database", marks=pytest.mark.integration)],
    ids=["sqlite", "postgres"],
)
def repository(request: pytest.FixtureRequest) -> SqlItemRepository:
    """A repository on a migrated throwaway database."""
    database: Database = request.getfixturevalue(request.param)
    return SqlItemRepository(database)


async def test_an_added_item_is_read_back(repository: SqlItemRepository) -> None:
    item = Item(id=uuid4(), name="first")
    await repository.add(item)
    assert await repository.get(item.id) == item
    assert await repository.get(uuid4()) is None


async def test_items_are_listed_by_name_up_to_the_limit(repository: SqlItemRepository) -> None:
    for name in ("cherry", "apple", "banana"):
        await repository.add(Item(id=uuid4(), name=name))
    assert [item.name for item in await repository.list_items(2)] == ["apple", "banana"]
