"""`slipway.db.writes`: a transaction's statements give Core's answers on SQLite and PostgreSQL;
on asyncpg, once the transaction has begun, they bypass Core and still roll back with it."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from slipway.db import Database, UtcDateTime
from slipway.db.reads import fetch_rows
from slipway.db.writes import compiled_write, execute

metadata = sa.MetaData()
items = sa.Table(
    "write_items",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40), nullable=False, unique=True),
    sa.Column("doc", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
    sa.Column("at", UtcDateTime(), nullable=True),
    sa.Column("token", sa.Uuid(), nullable=True),
)
stamped = sa.Table(
    "write_stamped",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("note", sa.String(40), nullable=False, default="python-side default"),
)
_c = items.c
INSERT = sa.insert(items)
RENAME = (
    sa.update(items)
    .where(_c.name == sa.bindparam("old_name"))
    .values(name=sa.bindparam("new_name"), doc=sa.bindparam("new_doc"))
)
DELETE = sa.delete(items).where(_c.id >= sa.bindparam("from_id"))
ALL = sa.select(_c.id, _c.name, _c.doc, _c.at, _c.token).order_by(_c.id)
BY_NAME = sa.select(_c.id).where(_c.name == sa.bindparam("name"))
LOCK = sa.select(_c.id).where(_c.id == sa.bindparam("id")).with_for_update()
AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def row(id_: int, name: str, doc: Any = None) -> dict[str, Any]:
    return {"id": id_, "name": name, "doc": doc, "at": AT, "token": uuid.UUID(int=id_)}


async def prepare(database: Database) -> Database:
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(INSERT, [row(1, "one", {"n": 1}), row(2, "two", [1, "é"])])
    return database


@pytest.fixture
async def prepared(database: Database) -> Database:
    """The tables and two rows, on SQLite and on PostgreSQL."""
    return await prepare(database)


@pytest.fixture
async def on_postgres(postgres_database: Database) -> Database:
    """The tables and two rows, on PostgreSQL only."""
    return await prepare(postgres_database)


@pytest.fixture
def core_statements(on_postgres: Database) -> Iterator[list[str]]:
    """The statements that went through Core's execution (its cursor events)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(on_postgres.engine.sync_engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(on_postgres.engine.sync_engine, "before_cursor_execute", record)


async def rows(database: Database) -> list[tuple[Any, ...]]:
    async with database.read_connection() as connection:
        return [tuple(r) for r in (await connection.execute(ALL)).all()]


async def begun(connection: AsyncConnection) -> None:
    """Begin the transaction and send its first statement (through Core, which begins it)."""
    await connection.begin()
    await connection.execute(LOCK, {"id": 1})


async def test_statements_give_cores_answers_and_commit_together(prepared: Database) -> None:
    async with prepared.engine.connect() as connection:
        await begun(connection)
        assert await execute(connection, INSERT, row(3, "three", {"deep": {"x": [None, 2.5]}})) == 1
        await execute(connection, INSERT, [row(4, "four"), row(5, "five", "text")])
        assert (
            await execute(
                connection, RENAME, {"old_name": "one", "new_name": "uno", "new_doc": {"n": 9}}
            )
            == 1
        )
        assert (
            await execute(
                connection, RENAME, {"old_name": "none", "new_name": "x", "new_doc": None}
            )
            == 0
        )
        assert await execute(connection, DELETE, {"from_id": 5}) == 1
        inside = await fetch_rows(connection, BY_NAME, {"name": "uno"})
        assert [tuple(r) for r in inside] == [(1,)]
        await connection.commit()
    assert await rows(prepared) == [
        (1, "uno", {"n": 9}, AT, uuid.UUID(int=1)),
        (2, "two", [1, "é"], AT, uuid.UUID(int=2)),
        (3, "three", {"deep": {"x": [None, 2.5]}}, AT, uuid.UUID(int=3)),
        (4, "four", None, AT, uuid.UUID(int=4)),
    ]


async def test_a_rolled_back_transaction_leaves_nothing_written(prepared: Database) -> None:
    before = await rows(prepared)
    async with prepared.engine.connect() as connection:
        await begun(connection)
        await execute(connection, INSERT, row(3, "three"))
        await execute(connection, DELETE, {"from_id": 1})
        assert await fetch_rows(connection, BY_NAME, {"name": "three"}) == []
        await connection.rollback()
    assert await rows(prepared) == before


async def test_a_unique_violation_is_sqlalchemys_integrity_error_and_rolls_back(
    prepared: Database,
) -> None:
    before = await rows(prepared)
    async with prepared.engine.connect() as connection:
        await begun(connection)
        await execute(connection, INSERT, row(3, "three"))
        with pytest.raises(IntegrityError) as raised:
            await execute(connection, INSERT, row(4, "one"))  # name "one" is taken
        assert "write_items" in str(raised.value) or "UNIQUE" in str(raised.value)
        await connection.rollback()
        await begun(connection)  # the connection is usable again
        assert await execute(connection, INSERT, row(3, "three")) == 1
        await connection.rollback()
    assert await rows(prepared) == before


@pytest.mark.integration
async def test_postgres_statements_after_the_first_bypass_core(
    on_postgres: Database, core_statements: list[str]
) -> None:
    async with on_postgres.engine.connect() as connection:
        await begun(connection)
        core_statements.clear()
        await execute(connection, INSERT, row(3, "three"))
        await execute(connection, INSERT, [row(4, "four"), row(5, "five")])
        await execute(connection, RENAME, {"old_name": "two", "new_name": "dos", "new_doc": None})
        await fetch_rows(connection, BY_NAME, {"name": "dos"})
        assert core_statements == []
        await connection.commit()
    assert [r[1] for r in await rows(on_postgres)] == ["one", "dos", "three", "four", "five"]


@pytest.mark.integration
async def test_postgres_a_statement_before_the_transaction_began_goes_through_core(
    on_postgres: Database, core_statements: list[str]
) -> None:
    async with on_postgres.engine.connect() as connection:
        await connection.begin()  # SQLAlchemy's begin sends nothing yet
        core_statements.clear()
        await execute(connection, INSERT, row(3, "three"))
        assert len(core_statements) == 1  # Core began the driver's transaction with it
        await connection.rollback()
    assert [r[0] for r in await rows(on_postgres)] == [1, 2]


@pytest.mark.integration
async def test_postgres_a_read_before_the_transaction_began_goes_through_core(
    on_postgres: Database, core_statements: list[str]
) -> None:
    async with on_postgres.engine.connect() as connection:
        await connection.begin()
        core_statements.clear()
        assert [tuple(r) for r in await fetch_rows(connection, BY_NAME, {"name": "one"})] == [(1,)]
        assert len(core_statements) == 1  # Core began the driver's transaction with it
        await execute(connection, INSERT, row(3, "three"))  # now straight to the driver...
        assert len(core_statements) == 1
        await connection.rollback()  # ...and in the same transaction
    assert [r[0] for r in await rows(on_postgres)] == [1, 2]


@pytest.mark.integration
async def test_postgres_a_python_side_default_goes_through_core(on_postgres: Database) -> None:
    statement = sa.insert(stamped)
    assert not compiled_write(statement, ["id"], on_postgres.engine.dialect).driver_direct
    async with on_postgres.engine.connect() as connection:
        await begun(connection)
        await execute(connection, statement, {"id": 1})
        await connection.commit()
    async with on_postgres.read_connection() as connection:
        notes = (await connection.execute(sa.select(stamped.c.note))).scalars().all()
    assert notes == ["python-side default"]


@pytest.mark.integration
async def test_postgres_a_disconnect_invalidates_the_connection(on_postgres: Database) -> None:
    async with on_postgres.engine.connect() as connection:
        await begun(connection)
        pid = (await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        async with on_postgres.engine.connect() as other:
            await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(sa.exc.DBAPIError) as raised:
            await execute(connection, INSERT, row(3, "three"))
        assert raised.value.connection_invalidated
        assert connection.invalidated
    assert [r[0] for r in await rows(on_postgres)] == [1, 2]
