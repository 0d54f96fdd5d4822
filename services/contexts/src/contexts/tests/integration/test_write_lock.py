"""The write lock on PostgreSQL: a writer appends on a version only while it holds the key's row.

Found by tests/integration/test_put_concurrency_on_postgres.py (32 creates at once), which
failed about one run in three with a 500 "deadlock detected": a creator's lock found no
`contexts_current` row, the first creation committed before its next read, and it appended
version 2 without the lock, while the writer holding the lock appended version 2 too. Here
the same interleaving is made to happen every time.
"""

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from contexts.adapters.sql import SqlUnitOfWorkFactory
from contexts.adapters.sql.repository import SqlContextRepository
from contexts.domain.model import ContextKey
from contexts.tests.integration.sql_support import SqlWorld, migrated_postgres, sql_world
from contexts.tests.unit.domain.builders import ALICE, KEY, document

pytestmark = pytest.mark.integration


@pytest.fixture
async def world() -> AsyncIterator[SqlWorld]:
    """A registry on a freshly migrated throwaway PostgreSQL database."""
    async with migrated_postgres() as database:
        yield sql_world(database)


def creation_committed_right_after_the_lock(
    world: SqlWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next write lock of KEY is followed at once by another writer creating KEY."""
    original = SqlContextRepository._lock_for_write
    pending = [True]

    async def lock_then_a_competitor_creates(self: SqlContextRepository, key: ContextKey) -> bool:
        locked = await original(self, key)
        if pending and key == KEY:
            pending.clear()
            await world.registry.put(ALICE, KEY, document("the competitor"))  # commits v1
        return locked

    monkeypatch.setattr(SqlContextRepository, "_lock_for_write", lock_then_a_competitor_creates)


async def row_is_locked_by_another(world: SqlWorld) -> bool:
    """Whether another transaction holds KEY's `contexts_current` row (FOR UPDATE NOWAIT)."""
    async with world.database.engine.connect() as connection:
        try:
            await connection.execute(
                sa.text(
                    "SELECT version FROM contexts_current"
                    " WHERE namespace = :namespace AND name = :name FOR UPDATE NOWAIT"
                ),
                {"namespace": KEY.namespace, "name": KEY.name},
            )
        except DBAPIError as error:
            refusal = str(error.orig)
        else:
            return False
        finally:
            await connection.rollback()
    assert "could not obtain lock" in refusal, refusal
    return True


async def test_a_lock_that_found_no_row_reads_no_version_committed_after_it(
    world: SqlWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    creation_committed_right_after_the_lock(world, monkeypatch)

    async with SqlUnitOfWorkFactory(world.database)() as uow:
        previous = await uow.contexts.get(KEY, for_update=True)

        # Version 1 is committed by now, but this writer holds no lock to append version 2.
        assert previous is None
        assert not await row_is_locked_by_another(world)


async def test_a_version_read_for_update_is_read_under_the_lock(world: SqlWorld) -> None:
    await world.registry.put(ALICE, KEY, document("v1"))

    async with SqlUnitOfWorkFactory(world.database)() as uow:
        previous = await uow.contexts.get(KEY, for_update=True)

        assert previous is not None
        assert previous.version == 1
        assert await row_is_locked_by_another(world)


async def test_the_writer_that_lost_the_creation_is_retried_onto_it(
    world: SqlWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    creation_committed_right_after_the_lock(world, monkeypatch)

    result = await world.registry.put(ALICE, KEY, document("mine"))

    versions = await world.registry.versions(ALICE, KEY)
    assert [(v.version, v.body["content"]) for v in versions] == [
        (1, "the competitor"),
        (2, "mine"),
    ]
    assert result.context == versions[1]
    assert len(await world.registry.audit(ALICE, KEY)) == 2
    assert [event.event.version for event in await world.outbox.pending(10)] == [1, 2]
