"""What the SQL adapters send per use-case, on SQLite and PostgreSQL: reads as single
autocommit statements (no BEGIN/ROLLBACK around them), each write as one transaction of
exactly the statements it needs, and the outbox's wake-up only after a commit."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

from contexts.adapters.sql import SqlUnitOfWorkFactory
from contexts.adapters.sql.outbox import SqlOutbox
from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.events import ContextChanged
from contexts.domain.service import ContextRegistry
from contexts.tests.integration.sql_support import (
    SqlWorld,
    migrated_postgres,
    migrated_sqlite,
    sql_world,
)
from contexts.tests.unit.domain.builders import ALICE, BOB, KEY, document
from contexts.tests.unit.domain.fakes import FixedClock

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
]


@pytest.fixture(params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlWorld]:
    """A registry on a migrated SQLite file, then on a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        async with migrated_sqlite(tmp_path) as database:
            yield sql_world(database)
    else:
        async with migrated_postgres() as database:
            yield sql_world(database)


def _autocommit(connection: Connection) -> bool:
    # The driver connection's own setting: asyncpg's adapter says "autocommit", sqlite3 None.
    driver = connection.connection.dbapi_connection
    return getattr(driver, "isolation_level", "") in (None, "autocommit")


@contextmanager
def statements() -> Iterator[list[tuple[str, bool]]]:
    """Each statement sent while inside, on any engine: its first word, whether autocommit."""
    sent: list[tuple[str, bool]] = []

    def record(
        connection: Connection,
        _cursor: Any,
        statement: str,
        _params: Any,
        context: Any,
        _many: bool,
    ) -> None:
        sent.append((statement.split()[0].upper(), _autocommit(connection)))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@contextmanager
def sent_by_asyncpg() -> Iterator[list[tuple[str, bool]]]:
    """What asyncpg itself sends while inside, from its query logger: the statements of
    `Database.fetch_all` and every BEGIN/COMMIT/ROLLBACK (SQLAlchemy's executions of its own
    prepared statements are not logged: `statements()` sees those). Each as (first word,
    True): a statement sent outside any BEGIN runs in autocommit."""
    sent: list[tuple[str, bool]] = []
    drivers: list[Any] = []

    def log(record: Any) -> None:
        sent.append((record.query.split()[0].upper().rstrip(";"), True))

    def attach(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if hasattr(driver, "add_query_logger"):
            driver.add_query_logger(log)
            drivers.append(driver)

    event.listen(Pool, "checkout", attach)
    try:
        yield sent
    finally:
        event.remove(Pool, "checkout", attach)
        for driver in drivers:
            driver.remove_query_logger(log)


async def test_reads_are_single_statements_outside_any_transaction(world: SqlWorld) -> None:
    await world.registry.put(ALICE, KEY, document("v1", team="a"))
    with statements() as sent, sent_by_asyncpg() as sent_by_driver:
        await world.registry.get(BOB, KEY)
        await world.registry.list(BOB, KEY.namespace)
        await world.registry.get_version(BOB, KEY, 1)
        await world.registry.versions(BOB, KEY)
        await world.registry.audit(BOB, KEY)
        await asyncio.sleep(0.01)  # asyncpg calls its query loggers soon, not at once
    assert sent + sent_by_driver == [("SELECT", True)] * 8


@pytest.mark.parametrize("world", [BACKENDS[1]], indirect=True)  # asyncpg's log: PostgreSQL
async def test_the_asyncpg_log_sees_a_transaction(world: SqlWorld) -> None:
    """The check above would see a BEGIN or ROLLBACK around a read: a write's are seen."""
    with sent_by_asyncpg() as sent_by_driver:
        await world.registry.put(ALICE, KEY, document("v1", team="a"))
        await asyncio.sleep(0.01)
    verbs = [verb for verb, _ in sent_by_driver]
    assert (verbs[0], verbs[-1]) == ("BEGIN", "COMMIT")


async def test_a_write_is_one_transaction_of_the_statements_it_needs(world: SqlWorld) -> None:
    await world.registry.put(ALICE, KEY, document("v1", team="a"))
    with statements() as sent, sent_by_asyncpg() as sent_by_driver:
        await world.registry.put(ALICE, KEY, document("v2", team="b", tier="1"))
        await asyncio.sleep(0.01)  # asyncpg calls its query loggers soon, not at once
    postgres = world.database.engine.dialect.name == "postgresql"
    expected = [
        "SELECT" if postgres else "UPDATE",  # the write lock
        "SELECT",  # the latest version
        "INSERT",  # the version
        "UPDATE",  # the pointer
        "DELETE",  # the labels...
        "INSERT",  # ...replaced (one executemany)
        "INSERT",  # the audit entry
        "INSERT",  # the outbox row
        *(["SELECT"] if postgres else []),  # pg_notify
    ]
    if not postgres:
        assert [verb for verb, _ in sent] == expected
        assert {autocommit for _, autocommit in sent} == {False}
        return
    # The lock goes through Core, which begins the driver's transaction with it; the rest go
    # straight to asyncpg inside that transaction (slipway.db.writes), then one COMMIT.
    assert sent == [("SELECT", False)]
    assert [verb for verb, _ in sent_by_driver] == ["BEGIN", *expected[1:], "COMMIT"]


async def test_the_outbox_wakes_relays_after_a_commit_only(
    world: SqlWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    uow_factory = SqlUnitOfWorkFactory(world.database)
    registry = ContextRegistry(uow_factory, default_kinds(), FixedClock())
    fired: list[int] = []
    unsubscribe = uow_factory.outbox.committed.subscribe(lambda: fired.append(len(fired)))
    try:
        await registry.put(ALICE, KEY, document("v1"))
        await registry.put(ALICE, KEY, document("v1"))  # the same content: no write
        assert fired == [0]

        original = SqlOutbox.add

        async def add_then_fail(self: SqlOutbox, change: ContextChanged) -> None:
            await original(self, change)
            raise RuntimeError("after the outbox row")

        monkeypatch.setattr(SqlOutbox, "add", add_then_fail)
        with pytest.raises(RuntimeError, match="after the outbox row"):
            await registry.put(ALICE, KEY, document("v2"))
        monkeypatch.undo()
        assert fired == [0]
        await registry.put(ALICE, KEY, document("v3"))
        assert fired == [0, 1]
    finally:
        unsubscribe()
