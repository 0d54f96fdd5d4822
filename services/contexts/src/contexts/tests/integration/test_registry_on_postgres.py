"""`ContextRegistry` end to end on the SQL adapters and a real PostgreSQL database.

The shared scenarios (registry_scenarios.py) run here on PostgreSQL and in
tests/unit/test_sql_on_sqlite.py on SQLite; what only PostgreSQL can show is below them:
writers racing for one version, and the audit trigger.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from contexts.adapters.sql.repository import SqlContextRepository
from contexts.domain.errors import PreconditionFailed
from contexts.domain.model import ContextKey, PutResult
from contexts.tests.integration import registry_scenarios
from contexts.tests.integration.sql_support import (
    SqlWorld,
    count_rows,
    migrated_postgres,
    sql_world,
)
from contexts.tests.unit.domain.builders import ALICE, CAROL, KEY, document

pytestmark = pytest.mark.integration

WRITERS = 8


@pytest.fixture
async def world() -> AsyncIterator[SqlWorld]:
    """A registry on a freshly migrated throwaway PostgreSQL database."""
    async with migrated_postgres() as database:
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


@pytest.mark.parametrize("in_lockstep", [False, True], ids=["gathered", "lockstep"])
async def test_parallel_puts_with_one_if_match_have_exactly_one_winner(
    world: SqlWorld, monkeypatch: pytest.MonkeyPatch, in_lockstep: bool
) -> None:
    """N writers with the same If-Match, each on its own session: one wins, the rest get 412.

    `gathered`: the writers queue for the row lock of their first read, so the later ones
    already see version 2. `lockstep` skips that lock on each writer's first read and holds
    it until every writer has read version 1: all pass the If-Match check and race on the
    INSERT, the primary key turns every loser's write into `Conflict`, and the retry, on
    version 2, into `PreconditionFailed`.
    """
    first = await world.registry.put(ALICE, KEY, document("v1"))
    if in_lockstep:
        barrier = asyncio.Barrier(WRITERS)
        original_get = SqlContextRepository.get
        have_read: set[asyncio.Task[Any] | None] = set()

        async def get_in_lockstep(
            self: SqlContextRepository, key: ContextKey, *, for_update: bool = False
        ) -> Any:
            writer = asyncio.current_task()
            if writer in have_read:
                return await original_get(self, key, for_update=for_update)
            have_read.add(writer)
            found = await original_get(self, key)
            await barrier.wait()
            return found

        monkeypatch.setattr(SqlContextRepository, "get", get_in_lockstep)

    async with asyncio.timeout(60):
        outcomes = await asyncio.gather(
            *(
                world.registry.put(CAROL, KEY, document(f"writer {n}"), if_match=first.context.etag)
                for n in range(WRITERS)
            ),
            return_exceptions=True,
        )
    monkeypatch.undo()

    winners = [outcome for outcome in outcomes if isinstance(outcome, PutResult)]
    losers = [outcome for outcome in outcomes if not isinstance(outcome, PutResult)]
    assert len(winners) == 1, outcomes
    assert all(isinstance(loser, PreconditionFailed) for loser in losers), losers

    versions = await world.registry.versions(ALICE, KEY)
    assert [version.version for version in versions] == [1, 2]
    assert versions[1] == winners[0].context
    assert await world.registry.get(ALICE, KEY) == winners[0].context
    assert len(await world.registry.audit(ALICE, KEY)) == 2
    assert [event.event.version for event in await world.outbox.pending(10)] == [1, 2]


async def test_audit_rows_cannot_be_changed_or_removed(world: SqlWorld) -> None:
    """The trigger refuses UPDATE, DELETE (even of no row) and TRUNCATE on audit_log."""
    await world.registry.put(ALICE, KEY, document())
    statements = [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE false",
        "TRUNCATE audit_log",
    ]
    for statement in statements:
        async with world.database.sessionmaker() as session:
            with pytest.raises(DBAPIError, match="audit_log is append-only"):
                await session.execute(sa.text(statement))
            await session.rollback()
    assert await count_rows(world.database, "audit_log") == 1
    entries = await world.registry.audit(ALICE, KEY)
    assert [entry.actor for entry in entries] == ["alice"]
    # Inserting stays allowed: that is what appending is.
    await world.registry.put(ALICE, KEY, document("again"))
    assert await count_rows(world.database, "audit_log") == 2
