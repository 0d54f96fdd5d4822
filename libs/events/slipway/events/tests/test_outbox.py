"""The outbox on SQLite and PostgreSQL: rows exist only if the caller's transaction commits."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from slipway.events import Event
from slipway.events.tests.conftest import OutboxDatabase


def _event(number: int, occurred_at: datetime | None = None) -> Event:
    event = Event(stream="orders", type="order.placed", payload={"n": number}, key="o")
    return event if occurred_at is None else replace(event, occurred_at=occurred_at)


class RollbackError(Exception):
    """Raised inside a unit of work to roll it back."""


async def _add_and_roll_back(odb: OutboxDatabase, *events: Event) -> None:
    async with odb.database.unit_of_work() as uow:
        await odb.outbox.add(uow.session, *events)
        raise RollbackError


async def test_rows_of_a_rolled_back_transaction_are_never_pending(
    outbox_database: OutboxDatabase,
) -> None:
    outbox, database = outbox_database.outbox, outbox_database.database
    with pytest.raises(RollbackError):
        await _add_and_roll_back(outbox_database, _event(1))
    async with database.unit_of_work() as uow:
        await outbox.add(uow.session, _event(2))
    async with database.engine.connect() as connection:
        pending = await outbox.pending(connection, 10)
    assert [p.event.payload["n"] for p in pending] == [2]


async def test_pending_returns_committed_events_in_position_order_with_their_identity(
    outbox_database: OutboxDatabase,
) -> None:
    outbox, database = outbox_database.outbox, outbox_database.database
    occurred = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = _event(1, occurred_at=occurred)
    async with database.unit_of_work() as uow:
        await outbox.add(uow.session, first, _event(2))
    async with database.unit_of_work() as uow:
        await outbox.add(uow.session, _event(3))
    async with database.engine.connect() as connection:
        pending = await outbox.pending(connection, 2)
    assert [p.event.payload["n"] for p in pending] == [1, 2]
    assert pending[0].position < pending[1].position
    assert pending[0].event == first  # id, stream, type, key, payload and time round-trip


async def test_marked_events_leave_pending_and_the_backlog(
    outbox_database: OutboxDatabase,
) -> None:
    outbox, database = outbox_database.outbox, outbox_database.database
    old = datetime.now(UTC) - timedelta(minutes=5)
    async with database.unit_of_work() as uow:
        await outbox.add(uow.session, _event(1, occurred_at=old), _event(2), _event(3))
    async with database.engine.begin() as connection:
        backlog = await outbox.backlog(connection)
        assert backlog.count == 3
        assert backlog.oldest_occurred_at == old
        first = (await outbox.pending(connection, 1))[0]
        await outbox.mark_published(connection, [first.position])
    async with database.engine.connect() as connection:
        assert [p.event.payload["n"] for p in await outbox.pending(connection, 10)] == [2, 3]
        assert (await outbox.backlog(connection)).count == 2


async def test_an_event_id_is_stored_once(outbox_database: OutboxDatabase) -> None:
    outbox, database = outbox_database.outbox, outbox_database.database
    event = _event(1)
    async with database.unit_of_work() as uow:
        await outbox.add(uow.session, event)
    with pytest.raises(sa.exc.IntegrityError):
        async with database.unit_of_work() as uow:
            await outbox.add(uow.session, event)


async def test_the_commit_signal_fires_after_commit_and_never_on_rollback(
    outbox_database: OutboxDatabase,
) -> None:
    outbox, database = outbox_database.outbox, outbox_database.database
    fired: list[int] = []
    outbox.committed.subscribe(lambda: fired.append(1))
    with pytest.raises(RollbackError):
        await _add_and_roll_back(outbox_database, _event(1))
    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.select(1))  # a commit without outbox rows
    assert fired == []
    async with database.unit_of_work() as uow:
        await outbox.add(uow.session, _event(2))
        assert fired == []  # not before the commit
    assert fired == [1]


@pytest.mark.integration
async def test_postgres_listeners_are_notified_only_when_the_transaction_commits(
    postgres_outbox_database: OutboxDatabase,
) -> None:
    outbox, database = postgres_outbox_database.outbox, postgres_outbox_database.database
    notified = asyncio.Event()
    async with database.engine.connect() as listening:
        raw = await listening.get_raw_connection()
        await raw.driver_connection.add_listener(  # type: ignore[union-attr]
            outbox.channel, lambda *_: notified.set()
        )
        with pytest.raises(RollbackError):
            await _add_and_roll_back(postgres_outbox_database, _event(1))
        await asyncio.sleep(0.2)
        assert not notified.is_set()
        async with database.unit_of_work() as uow:
            await outbox.add(uow.session, _event(2))
        await asyncio.wait_for(notified.wait(), 2)
        await listening.invalidate()
