"""Waiting checkouts are served in arrival order; timeouts and cancellation lose no connection."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import event, exc, text
from sqlalchemy.pool import AsyncAdaptedQueuePool, Pool

from slipway.db import Database, DatabaseSettings
from slipway.db.engine import engine_options
from slipway.db.fair_pool import FairAsyncAdaptedQueuePool
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@asynccontextmanager
async def one_connection_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, **overrides: float
) -> AsyncIterator[Database]:
    settings = DatabaseSettings(pool_size=1, max_overflow=0).model_copy(update=overrides)
    if backend == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        async with throwaway_postgres_database(url, settings=settings) as database:
            yield database
    else:
        async with throwaway_sqlite_database(tmp_path, settings=settings) as database:
            yield database


async def read_pool(database: Database) -> Pool:
    """The pool `read_connection` checks out of (on SQLite, the autocommit engine's own)."""
    async with database.read_connection() as connection:
        return connection.engine.pool


async def service_order(database: Database, waiters: int) -> list[str]:
    """Who gets the one connection, when `waiters` queue for it and a newcomer arrives.

    A holder has the connection; `w0`..`wN` start waiting in that order; as the holder's
    connection is checked in, a newcomer task is started, so it runs before the woken waiter.
    """
    order: list[str] = []
    pool = await read_pool(database)
    newcomers: list[asyncio.Task[None]] = []

    async def use(name: str) -> None:
        async with database.read_connection() as connection:
            order.append(name)
            await connection.execute(text("SELECT 1"))

    def on_checkin(*_: object) -> None:
        if not newcomers:
            newcomers.append(asyncio.get_running_loop().create_task(use("newcomer")))

    holding = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with database.read_connection():
            holding.set()
            await release.wait()
            event.listen(pool, "checkin", on_checkin)

    holder_task = asyncio.create_task(holder())
    await holding.wait()
    tasks = []
    for index in range(waiters):
        tasks.append(asyncio.create_task(use(f"w{index}")))
        await asyncio.sleep(0.01)  # each is waiting in the pool before the next starts
    release.set()
    await asyncio.gather(holder_task, *tasks)
    await asyncio.gather(*newcomers)
    event.remove(pool, "checkin", on_checkin)
    return order


def test_postgres_and_file_sqlite_engines_use_the_fair_pool(tmp_path: Path) -> None:
    for url in ("postgresql://127.0.0.1/test", f"sqlite:///{tmp_path / 'x.db'}"):
        settings = DatabaseSettings(url=SecretStr(url))
        options = engine_options(settings, settings.sqlalchemy_url("t"), "t")
        assert options["poolclass"] is FairAsyncAdaptedQueuePool


async def test_waiting_checkouts_are_served_in_arrival_order(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with one_connection_database(backend, tmp_path, request) as database:
        assert isinstance(await read_pool(database), FairAsyncAdaptedQueuePool)
        order = await service_order(database, waiters=5)
    # SQLAlchemy's own AsyncAdaptedQueuePool gives it to the newcomer first (it takes a free
    # connection before the woken waiter runs), and that waiter then queues at the back.
    assert order == ["w0", "w1", "w2", "w3", "w4", "newcomer"]


async def test_the_stock_pool_lets_a_newcomer_barge_in(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the fair pool fixes: the same scenario on SQLAlchemy's pool serves out of order."""
    import slipway.db.engine as engine_module

    monkeypatch.setattr(engine_module, "FairAsyncAdaptedQueuePool", AsyncAdaptedQueuePool)
    async with one_connection_database(backend, tmp_path, request) as database:
        assert type(await read_pool(database)) is AsyncAdaptedQueuePool
        order = await service_order(database, waiters=5)
    assert order[0] == "newcomer"
    assert order != ["w0", "w1", "w2", "w3", "w4", "newcomer"]


async def test_a_checkout_still_times_out_with_sqlalchemys_error(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with one_connection_database(
        backend, tmp_path, request, pool_timeout_seconds=0.2
    ) as database:
        async with database.read_connection():
            with pytest.raises(exc.TimeoutError):
                async with database.read_connection():
                    pass
        # The connection came back: the next checkout gets it at once.
        async with asyncio.timeout(2), database.read_connection() as connection:
            await connection.execute(text("SELECT 1"))
        assert (await read_pool(database)).checkedout() == 0  # type: ignore[attr-defined]


async def test_a_cancelled_waiter_loses_no_connection(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with one_connection_database(backend, tmp_path, request) as database:
        release = asyncio.Event()

        async def hold() -> None:
            async with database.read_connection():
                await release.wait()

        async def wait_for_one() -> None:
            async with database.read_connection():
                pass

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0.05)
        waiters = [asyncio.create_task(wait_for_one()) for _ in range(3)]
        await asyncio.sleep(0.05)
        waiters[0].cancel()  # cancelled while waiting
        release.set()  # the connection goes to waiters[1]...
        await asyncio.sleep(0)
        waiters[1].cancel()  # ...which may be cancelled once it was handed over
        await asyncio.gather(holder, *waiters, return_exceptions=True)
        assert waiters[2].done()
        assert waiters[2].exception() is None
        async with asyncio.timeout(2), database.read_connection() as connection:
            await connection.execute(text("SELECT 1"))
        assert (await read_pool(database)).checkedout() == 0  # type: ignore[attr-defined]
