"""Reads without a transaction: `read_connection` sends no BEGIN, on SQLite and PostgreSQL."""

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db import Database
from slipway.db.tests.notes import Note


async def add_notes(database: Database, *bodies: str) -> None:
    async with database.unit_of_work() as uow:
        uow.session.add_all(Note(body=body) for body in bodies)


async def driver_connection(connection: AsyncConnection) -> Any:
    return (await connection.get_raw_connection()).driver_connection


async def test_read_connection_sees_committed_rows(database: Database) -> None:
    await add_notes(database, "b", "a")
    async with database.read_connection() as connection:
        rows = await connection.execute(select(Note.body).order_by(Note.body))
        assert rows.scalars().all() == ["a", "b"]


async def test_read_runs_the_work_and_returns_its_result(database: Database) -> None:
    await add_notes(database, "only")

    async def bodies(connection: AsyncConnection) -> list[str]:
        return list((await connection.scalars(select(Note.body))).all())

    assert await database.read(bodies) == ["only"]


async def test_read_connection_does_not_exist_before_start(database: Database) -> None:
    await database.stop()
    with pytest.raises(RuntimeError, match="before start"):
        async with database.read_connection():
            pass


@pytest.mark.integration
async def test_postgres_read_connection_sends_no_begin(postgres_database: Database) -> None:
    await add_notes(postgres_database, "n")
    async with postgres_database.read_connection() as connection:
        assert (await connection.scalar(select(Note.body))) == "n"
        # asyncpg tracks the server's transaction status from every ReadyForQuery.
        assert not (await driver_connection(connection)).is_in_transaction()
    async with postgres_database.engine.connect() as connection:  # the default, for contrast
        await connection.scalar(select(Note.body))
        assert (await driver_connection(connection)).is_in_transaction()


@pytest.mark.integration
async def test_postgres_read_connection_leaves_the_pool_transactional(
    postgres_database: Database,
) -> None:
    async with postgres_database.read_connection() as connection:
        await connection.execute(text("SELECT 1"))
    # The same pooled connection, back in the engine's default isolation: a BEGIN again.
    async with postgres_database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
        assert (await driver_connection(connection)).is_in_transaction()


async def test_sqlite_read_connection_sends_only_the_statement(
    sqlite_database: Database,
) -> None:
    await add_notes(sqlite_database, "s")
    sent: list[str] = []
    async with sqlite_database.read_connection() as connection:
        aiosqlite_connection = await driver_connection(connection)
        await aiosqlite_connection.set_trace_callback(sent.append)
        try:
            assert (await connection.scalar(select(Note.body))) == "s"
            assert not aiosqlite_connection.in_transaction
        finally:
            await aiosqlite_connection.set_trace_callback(None)
    assert [statement.split()[0] for statement in sent] == ["SELECT"]
