"""In-process cost of one indexed read per path, and pool churn under 32 concurrent tasks.

    python -m slipway.db.tests.bench_read_paths [postgresql://postgres@127.0.0.1:5432/test]

Paths, alternating in each round (best of ROUNDS, µs per read): a unit of work with the old
defaults' pre-ping, a unit of work without it, `read_connection()`, `read()`. Then the
32-task bursts on the old pool (5 + 10 overflow) and the default one: connections opened.
Not a test: timings on a shared machine are for ratios within one run.
"""

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db import Database, DatabaseSettings
from slipway.db.testing import DEFAULT_POSTGRES_URL, throwaway_postgres_database
from slipway.db.tests.conftest import SAMPLE_MIGRATIONS
from slipway.db.tests.notes import Note

READS = int(os.environ.get("BENCH_READS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
OLD = "unit_of_work, pre-ping (old default)"
CONCURRENCY = 32
BURSTS = 20
BY_BODY = select(Note.id, Note.body).where(Note.body == "note-7")


async def via_unit_of_work(database: Database) -> None:
    async with database.unit_of_work() as uow:
        (await uow.session.execute(BY_BODY)).one()


async def via_read_connection(database: Database) -> None:
    async with database.read_connection() as connection:
        (await connection.execute(BY_BODY)).one()


async def _one(connection: AsyncConnection) -> None:
    (await connection.execute(BY_BODY)).one()


async def via_read(database: Database) -> None:
    await database.read(_one)


async def per_read_us(
    database: Database, path: Callable[[Database], Awaitable[None]]
) -> tuple[float, float]:
    """Wall-clock and this process's CPU time per read, in µs."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(READS):
        await path(database)
    return (
        (time.perf_counter() - wall) / READS * 1e6,
        (time.process_time() - cpu) / READS * 1e6,
    )


async def seeded(stack: AsyncExitStack, url: str, settings: DatabaseSettings) -> Database:
    database = await stack.enter_async_context(
        throwaway_postgres_database(url, migrations_dir=SAMPLE_MIGRATIONS, settings=settings)
    )
    async with database.unit_of_work() as uow:
        uow.session.add_all(Note(body=f"note-{n}") for n in range(100))
    return database


async def read_paths(url: str) -> None:
    async with AsyncExitStack() as stack:
        old = await seeded(stack, url, DatabaseSettings(pool_pre_ping=True))
        new = await seeded(stack, url, DatabaseSettings())
        paths: dict[str, tuple[Database, Callable[[Database], Awaitable[None]]]] = {
            OLD: (old, via_unit_of_work),
            "unit_of_work, no pre-ping": (new, via_unit_of_work),
            "read_connection()": (new, via_read_connection),
            "read()": (new, via_read),
        }
        best_wall = dict.fromkeys(paths, float("inf"))
        best_cpu = dict.fromkeys(paths, float("inf"))
        for _ in range(ROUNDS):
            for name, (database, path) in paths.items():
                wall, cpu = await per_read_us(database, path)
                best_wall[name] = min(best_wall[name], wall)
                best_cpu[name] = min(best_cpu[name], cpu)
    base_wall, base_cpu = best_wall[OLD], best_cpu[OLD]
    heading = f"path (best of {ROUNDS} x {READS})"
    print(f"{heading:40} wall µs/read  CPU µs/read")
    for name in paths:
        wall, cpu = best_wall[name], best_cpu[name]
        print(f"{name:40} {wall:7.1f} {wall / base_wall:5.2f}x {cpu:7.1f} {cpu / base_cpu:5.2f}x")


def opened(database: Database) -> float:
    for metric in database.metrics.connections_opened.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels == {"database": database.name}:
                return sample.value
    return 0.0


async def churn(url: str, settings: DatabaseSettings, label: str) -> None:
    async with throwaway_postgres_database(url, settings=settings) as database:

        async def one() -> None:
            async with database.read_connection() as connection:
                await connection.execute(text("SELECT 1"))

        started = time.perf_counter()
        for _ in range(BURSTS):
            await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
        print(
            f"{label:40} opened {opened(database):4.0f} connections"
            f" in {BURSTS} bursts of {CONCURRENCY};"
            f" {elapsed / (BURSTS * CONCURRENCY) * 1e6:7.1f} µs/read"
        )


async def main(url: str) -> None:
    await read_paths(url)
    await churn(url, DatabaseSettings(pool_size=5, max_overflow=10), "pool 5 + 10 overflow (old)")
    await churn(url, DatabaseSettings(), "pool 15, no overflow (default)")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_POSTGRES_URL))
