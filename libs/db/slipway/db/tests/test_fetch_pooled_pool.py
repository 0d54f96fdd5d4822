"""`fetch_all` on PostgreSQL checks out of the fair pool from async code: the pool's guarantees
hold as for a Core checkout (arrival order, timeout and its error, cancellation, overflow churn,
closed connections replaced, checkouts that need IO)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.pool import QueuePool

from slipway.db import Database, DatabaseSettings
from slipway.db.fair_pool import FairAsyncAdaptedQueuePool
from slipway.db.testing import throwaway_postgres_database
from slipway.db.tests.test_fetch_reads import retries
from slipway.db.tests.test_pool_churn import counted
from slipway.db.tests.test_stale_connections import terminate_backends, value

pytestmark = pytest.mark.integration

PID = sa.select(sa.func.pg_backend_pid().label("pid"))
NAP = sa.select(sa.func.pg_sleep(sa.bindparam("seconds", type_=sa.Float())).label("slept"))


@asynccontextmanager
async def postgres(postgres_url: str, **settings: Any) -> AsyncIterator[Database]:
    configured = DatabaseSettings(**settings)
    async with throwaway_postgres_database(postgres_url, settings=configured) as database:
        assert isinstance(database.engine.pool, FairAsyncAdaptedQueuePool)
        yield database


def pool_of(database: Database) -> QueuePool:
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    return pool


async def test_waiting_fetches_are_served_in_arrival_order(postgres_url: str) -> None:
    async with postgres(postgres_url, pool_size=1, max_overflow=0) as database:
        pool = pool_of(database)
        order: list[str] = []
        newcomers: list[asyncio.Task[None]] = []

        async def fetch(name: str) -> None:
            await database.fetch_all(PID)
            order.append(name)

        def on_checkin(*_: object) -> None:  # a newcomer arrives as the holder checks in
            if not newcomers:
                newcomers.append(asyncio.get_running_loop().create_task(fetch("newcomer")))

        holder = asyncio.create_task(database.fetch_all(NAP, {"seconds": 0.2}))
        await asyncio.sleep(0.05)
        waiters = []
        for index in range(5):
            waiters.append(asyncio.create_task(fetch(f"w{index}")))
            await asyncio.sleep(0.01)  # each waits in the pool before the next starts
        event.listen(pool, "checkin", on_checkin)
        await asyncio.gather(holder, *waiters)
        await asyncio.gather(*newcomers)
        event.remove(pool, "checkin", on_checkin)
    assert order == ["w0", "w1", "w2", "w3", "w4", "newcomer"]


async def test_a_waiting_fetch_times_out_with_the_pools_error(postgres_url: str) -> None:
    async with postgres(
        postgres_url, pool_size=1, max_overflow=0, pool_timeout_seconds=0.2
    ) as database:
        async with database.read_connection():
            with pytest.raises(exc.TimeoutError) as fetched:
                await database.fetch_all(PID)
            with pytest.raises(exc.TimeoutError) as connected:
                async with database.read_connection():
                    pass
        assert str(fetched.value) == str(connected.value)
        assert fetched.value.code == connected.value.code == "3o7r"
        assert fetched.value.__cause__ is None
        async with asyncio.timeout(2):  # the connection came back: the next read gets it
            assert await database.fetch_one(PID) is not None
        assert pool_of(database).checkedout() == 0
        assert retries(database) == 0


async def test_a_cancelled_waiting_fetch_loses_no_connection(postgres_url: str) -> None:
    async with postgres(postgres_url, pool_size=1, max_overflow=0) as database:
        pool = pool_of(database)
        holder = asyncio.create_task(database.fetch_all(NAP, {"seconds": 0.2}))
        await asyncio.sleep(0.05)
        waiters = [asyncio.create_task(database.fetch_all(PID)) for _ in range(3)]
        await asyncio.sleep(0.05)
        waiters[0].cancel()  # cancelled while waiting
        loop = asyncio.get_running_loop()

        def cancel_the_next(*_: object) -> None:
            # Runs before the hand-over to waiters[1] wakes it: it is cancelled holding it.
            loop.call_soon(waiters[1].cancel)

        event.listen(pool, "checkin", cancel_the_next, once=True)
        results = await asyncio.gather(holder, *waiters, return_exceptions=True)
        assert isinstance(results[1], asyncio.CancelledError)
        assert isinstance(results[2], asyncio.CancelledError)
        assert isinstance(results[3], list)  # waiters[2] got the connection waiters[1] gave back
        async with asyncio.timeout(2):
            assert await database.fetch_one(PID) is not None
        assert pool.checkedout() == 0
        assert counted(database.metrics.connections_opened, database) == 1


async def test_overflow_connections_churn_as_for_core_checkouts(postgres_url: str) -> None:
    rounds = 3
    async with postgres(postgres_url, pool_size=1, max_overflow=2) as database:
        for _ in range(rounds):
            await asyncio.gather(*(database.fetch_all(NAP, {"seconds": 0.05}) for _ in range(3)))
        opened = counted(database.metrics.connections_opened, database)
        closed = counted(database.metrics.connections_closed, database)
        assert pool_of(database).checkedout() == 0
    assert opened == 1 + 2 * rounds  # both overflow connections opened again in each round
    assert closed == opened - 1  # and closed on return: only pool_size stays open


async def test_a_closed_pooled_connection_is_replaced_at_checkout(postgres_url: str) -> None:
    async with postgres(postgres_url, pool_size=2) as database:
        await asyncio.gather(*(database.fetch_all(NAP, {"seconds": 0.05}) for _ in range(2)))
        before = {row.pid for row in await database.fetch_all(PID)}
        assert await terminate_backends(postgres_url, database) == 2
        await asyncio.sleep(0.1)  # asyncpg sees each socket close while it idles
        after = {row.pid for row in await database.fetch_all(PID)}
        assert not before & after
        assert retries(database) == 0  # replaced at checkout: the read never failed
        assert value(database, "connections_invalidated", kind="hard") >= 1


async def test_a_checkout_that_runs_io_still_works(postgres_url: str) -> None:
    """Checkout work the async path cannot do without a greenlet: pre-ping, a listener."""
    async with postgres(postgres_url, pool_size=1, pool_pre_ping=True) as database:
        assert await database.fetch_one(PID) is not None
        assert await database.fetch_one(PID) is not None  # pre-pinged (not fresh any more)
    async with postgres(postgres_url, pool_size=1) as database:
        ran: list[str] = []

        def on_checkout(dbapi_connection: Any, *_: object) -> None:
            cursor = dbapi_connection.cursor()  # IO through the adapter: needs the greenlet
            cursor.execute("SET application_name = 'checked-out'")
            cursor.close()
            ran.append("checkout")

        event.listen(database.engine.sync_engine, "checkout", on_checkout)
        rows = await database.fetch_all(sa.select(sa.func.current_setting("application_name")))
        assert [tuple(row) for row in rows] == [("checked-out",)]
        assert ran == ["checkout"]
        assert pool_of(database).checkedout() == 0
