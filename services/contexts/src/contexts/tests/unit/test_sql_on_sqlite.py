"""`ContextRegistry` end to end on the SQL adapters and SQLite, the embedded default.

Each test gets a temporary SQLite file migrated with the service's Alembic migrations, as
the service migrates its own at start-up; the same scenarios run on PostgreSQL in
tests/integration/test_registry_on_postgres.py.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contexts.tests.integration import registry_scenarios
from contexts.tests.integration.sql_support import SqlWorld, migrated_sqlite, sql_world


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SqlWorld]:
    """A registry on a freshly migrated temporary SQLite database."""
    async with migrated_sqlite(tmp_path) as database:
        yield sql_world(database)


async def test_put_patch_delete_and_read_back(world: SqlWorld) -> None:
    await registry_scenarios.put_patch_delete_and_read_back(world)


async def test_json_and_times_round_trip(world: SqlWorld) -> None:
    await registry_scenarios.json_and_times_round_trip(world)


async def test_list_pages_by_name_with_filters(world: SqlWorld) -> None:
    await registry_scenarios.list_pages_by_name_with_filters(world)


async def test_outbox_follows_each_change(world: SqlWorld) -> None:
    await registry_scenarios.outbox_follows_each_change(world)


async def test_failed_transaction_leaves_nothing(
    world: SqlWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    await registry_scenarios.failed_transaction_leaves_nothing(world, monkeypatch)
