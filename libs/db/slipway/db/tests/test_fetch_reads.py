"""`Database.fetch_all`/`fetch_one`: the same rows as Core on SQLite and PostgreSQL; on
asyncpg one statement and nothing else, re-run once after a disconnect."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from slipway.db import Database, DatabaseSettings, UtcDateTime
from slipway.db.testing import throwaway_postgres_database

metadata = sa.MetaData()
samples = sa.Table(
    "fetch_samples",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("doc", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")),
    sa.Column("flag", sa.Boolean(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=True),
    sa.Column("token", sa.Uuid(), nullable=False),
)
ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "b",
        "doc": {"n": 1, "list": [1.5, None, True], "big": 2**60, "s": "é"},
        "flag": True,
        "at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2))),
        "token": uuid.UUID(int=1),
    },
    {"id": 2, "name": "a", "doc": None, "flag": False, "at": None, "token": uuid.UUID(int=2)},
    {"id": 3, "name": "c", "doc": [], "flag": False, "at": None, "token": uuid.UUID(int=3)},
]
_c = samples.c
BY_FLAG = sa.select(samples).where(_c.flag == sa.bindparam("flag")).order_by(_c.name)
ALL = sa.select(_c.name, _c.doc).order_by(_c.id.desc()).limit(2)
ONE = sa.select(_c.id, _c.at).where(_c.id == sa.bindparam("id"))


async def with_samples(database: Database) -> Database:
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        await connection.execute(sa.insert(samples), ROWS)
    return database


@pytest.fixture
async def sampled(database: Database) -> Database:
    return await with_samples(database)


async def core_rows(database: Database, statement: sa.Select[Any], **params: Any) -> list[Any]:
    async with database.read_connection() as connection:
        return [tuple(row) for row in (await connection.execute(statement, params)).all()]


@pytest.mark.parametrize(
    ("statement", "params"), [(BY_FLAG, {"flag": False}), (BY_FLAG, {"flag": True}), (ALL, {})]
)
async def test_fetch_all_returns_what_core_returns(
    sampled: Database, statement: sa.Select[Any], params: dict[str, Any]
) -> None:
    rows = await sampled.fetch_all(statement, params)
    assert [tuple(row) for row in rows] == await core_rows(sampled, statement, **params)


async def test_fetch_all_rows_are_typed_named_tuples(sampled: Database) -> None:
    (row,) = await sampled.fetch_all(BY_FLAG, {"flag": True})
    assert row.doc == ROWS[0]["doc"]
    assert type(row.doc["big"]) is int
    assert row.flag is True
    assert row._asdict()["name"] == "b"
    assert row.at == ROWS[0]["at"]
    assert row.at.tzinfo == UTC
    assert row.token == uuid.UUID(int=1)
    assert isinstance(row.token, uuid.UUID)
    nulls = await sampled.fetch_all(BY_FLAG, {"flag": False})
    assert [(other.doc, other.at) for other in nulls] == [(None, None), ([], None)]


async def test_fetch_one_returns_the_row_or_none(sampled: Database) -> None:
    found = await sampled.fetch_one(ONE, {"id": 2})
    assert found is not None
    assert (found.id, found.at) == (2, None)
    assert await sampled.fetch_one(ONE, {"id": 99}) is None


# On asyncpg: the query logger sees every statement the driver sends, BEGIN included.


@pytest.fixture
async def single(postgres_url: str) -> AsyncIterator[Database]:
    """A PostgreSQL database with a pool of one connection, so every read uses that one."""
    settings = DatabaseSettings(pool_size=1)
    async with throwaway_postgres_database(postgres_url, settings=settings) as database:
        yield await with_samples(database)


async def logged_statements(database: Database) -> list[str]:
    sent: list[str] = []
    async with database.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        driver.add_query_logger(lambda record: sent.append(record.query))
    return sent


@pytest.mark.integration
async def test_postgres_fetch_all_sends_one_statement_without_begin(single: Database) -> None:
    sent = await logged_statements(single)
    rows = await single.fetch_all(BY_FLAG, {"flag": False})
    await asyncio.sleep(0.01)  # asyncpg calls its query loggers soon, not at once
    assert [row.name for row in rows] == ["a", "c"]
    assert len(sent) == 1
    assert sent[0].lstrip().upper().startswith("SELECT")
    sent.clear()
    async with single.engine.connect() as connection:  # Core on the default engine, to contrast
        await connection.execute(BY_FLAG, {"flag": False})
    await asyncio.sleep(0.01)
    # (asyncpg logs SQLAlchemy's own prepared statement's execution not at all.)
    assert [query.split()[0].upper().rstrip(";") for query in sent] == ["BEGIN", "ROLLBACK"]


@pytest.mark.integration
async def test_postgres_statement_needing_the_driver_type_code_runs_through_core(
    single: Database,
) -> None:
    halves = sa.select((sa.bindparam("one", type_=sa.Integer()) / 2).label("half"))
    assert [tuple(row) for row in await single.fetch_all(halves, {"one": 1})] == [
        tuple(row) for row in await core_rows(single, halves, one=1)
    ]


@pytest.mark.integration
async def test_postgres_fetch_all_reruns_once_after_a_disconnect(single: Database) -> None:
    async with single.engine.begin() as connection:
        await connection.execute(sa.text("CREATE SEQUENCE die_once"))
    dies_once = sa.select(
        sa.literal_column(
            "CASE WHEN nextval('die_once') = 1 THEN pg_terminate_backend(pg_backend_pid()) "
            "ELSE true END",
            sa.Boolean(),
        ).label("ok")
    )
    assert [tuple(row) for row in await single.fetch_all(dies_once)] == [(True,)]
    assert retries(single) == 1
    assert await single.fetch_one(ONE, {"id": 1}) is not None  # the pool is usable again


@pytest.mark.integration
async def test_postgres_fetch_all_is_not_rerun_after_a_second_disconnect(
    single: Database,
) -> None:
    always_dies = sa.select(sa.func.pg_terminate_backend(sa.func.pg_backend_pid()))
    with pytest.raises(DBAPIError) as raised:
        await single.fetch_all(always_dies)
    assert raised.value.connection_invalidated
    assert retries(single) == 1


@pytest.mark.integration
async def test_postgres_fetch_all_errors_are_sqlalchemy_errors_and_not_rerun(
    single: Database,
) -> None:
    as_integer = sa.select(sa.cast(sa.bindparam("text", type_=sa.String()), sa.Integer()))
    with pytest.raises(DBAPIError) as raised:
        await single.fetch_all(as_integer, {"text": "abc"})
    assert not raised.value.connection_invalidated
    assert "invalid input syntax for type integer" in str(raised.value)
    assert retries(single) == 0
    assert await single.fetch_one(ONE, {"id": 1}) is not None


@pytest.mark.integration
async def test_postgres_fetch_all_with_a_nul_in_a_text_parameter_is_a_sqlalchemy_error(
    single: Database,
) -> None:
    by_name = sa.select(_c.id).where(_c.name == sa.bindparam("name"))
    with pytest.raises(DBAPIError) as raised:
        await single.fetch_all(by_name, {"name": "a\x00b"})
    assert not raised.value.connection_invalidated
    assert retries(single) == 0
    assert await single.fetch_one(ONE, {"id": 1}) is not None  # its one connection came back


@pytest.mark.integration
async def test_postgres_fetch_all_cancelled_mid_statement_gives_its_connection_back(
    single: Database,
) -> None:
    sleeps = sa.select(sa.func.pg_sleep(5).label("slept"))
    read = asyncio.create_task(single.fetch_all(sleeps))
    await asyncio.sleep(0.2)
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    # pool_size=1: the next read gets the same pool's only connection, in time.
    assert await asyncio.wait_for(single.fetch_one(ONE, {"id": 1}), timeout=4) is not None


def retries(database: Database) -> float:
    for metric in database.metrics.read_retries.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels == {"database": database.name}:
                return float(sample.value)
    return 0.0
