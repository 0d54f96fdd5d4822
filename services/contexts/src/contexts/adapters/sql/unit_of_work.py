"""`SqlUnitOfWork`: the domain's UnitOfWork on one connection and at most one transaction.

Core statements on an `AsyncConnection`, no ORM session: the session's identity map and
unit-of-work bookkeeping would hold nothing here (the repositories map rows themselves).
The transaction begins with the first write or locking read (`SqlContextRepository.get(...,
for_update=True)`, which every write use-case starts with). Reads before that, which is all
of a read use-case, run as statements of their own on an autocommit connection: no `BEGIN`
and `ROLLBACK` round trips, no connection held between them. That gives up nothing: under
PostgreSQL's READ COMMITTED every statement of a transaction takes its own snapshot anyway,
and SQLite's driver only opens a transaction before a write. Where a use-case reads twice it
says why the two reads need no common snapshot (`contexts.domain.service`).
"""

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from contexts.adapters.sql.audit import SqlAuditLog
from contexts.adapters.sql.errors import is_unique_violation
from contexts.adapters.sql.outbox import SqlOutbox, change_outbox
from contexts.adapters.sql.repository import SqlContextRepository
from contexts.domain.errors import Conflict
from slipway.db import Database
from slipway.db.reads import ReadRow, fetch_rows
from slipway.events import Outbox

T = TypeVar("T")


class SqlUnitOfWork:
    """One transaction over the context versions, audit log and outbox (a `ConnectionScope`).

    Entering takes no connection yet; `commit` makes every change durable at once and then
    runs the `on_commit` callbacks (the outbox's wake-up); leaving without committing rolls
    back. Use each instance once, as `ContextRegistry` does through `SqlUnitOfWorkFactory`.
    """

    def __init__(self, database: Database, outbox: Outbox) -> None:
        self._database = database
        self._entered = False
        self._connection: AsyncConnection | None = None
        self._after_commit: list[Callable[[], None]] = []
        self._contexts = SqlContextRepository(self)
        self._audit = SqlAuditLog(self)
        self._outbox = SqlOutbox(outbox, self)

    @property
    def contexts(self) -> SqlContextRepository:
        """The context versions (inside `async with` only)."""
        self._check_entered()
        return self._contexts

    @property
    def audit(self) -> SqlAuditLog:
        """The audit trail (inside `async with` only)."""
        self._check_entered()
        return self._audit

    @property
    def outbox(self) -> SqlOutbox:
        """The outbox (inside `async with` only)."""
        self._check_entered()
        return self._outbox

    @property
    def dialect_name(self) -> str:
        """The database's dialect (`postgresql`, `sqlite`)."""
        return self._database.engine.dialect.name

    def _check_entered(self) -> None:
        if not self._entered:
            raise RuntimeError("unit of work used outside `async with`")

    async def read(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """`work` in the transaction once there is one, else alone on an autocommit connection."""
        self._check_entered()
        if self._connection is not None:
            return await work(self._connection)
        return await self._database.read(work)

    async def fetch_all(
        self, statement: sa.Select[Any], params: Mapping[str, Any]
    ) -> list[ReadRow]:
        """One SELECT's rows: in the transaction once there is one, else `Database.fetch_all`."""
        self._check_entered()
        connection = self._connection
        if connection is None:
            return await self._database.fetch_all(statement, params)
        return await fetch_rows(connection, statement, params)

    async def transaction(self) -> AsyncConnection:
        """The transaction's connection; the first call checks one out and begins."""
        self._check_entered()
        if self._connection is None:
            connection = await self._database.engine.connect()
            try:
                await connection.begin()
            except BaseException:
                await connection.close()
                raise
            self._connection = connection
        return self._connection

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` after this transaction commits (once, however often registered)."""
        if callback not in self._after_commit:
            self._after_commit.append(callback)

    async def __aenter__(self) -> Self:
        """Start the unit of work (a connection is taken only when a statement needs it)."""
        if self._entered:
            raise RuntimeError("unit of work entered twice")
        self._entered = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and give the connection back."""
        connection = self._connection
        try:
            if exc is not None and connection is not None and connection.in_transaction():
                await self.rollback()
        finally:
            self._entered = False
            self._connection = None
            self._after_commit.clear()
            if connection is not None:
                await connection.close()  # also discards an uncommitted (read-only) transaction

    async def commit(self) -> None:
        """Commit the transaction; `Conflict` if a uniqueness check failed only now."""
        self._check_entered()
        connection = self._connection
        if connection is None:  # nothing was written: nothing to make durable
            self._count("commit")
            return
        try:
            await connection.commit()
        except IntegrityError as error:
            self._after_commit.clear()
            self._count("rollback")
            if is_unique_violation(error):
                raise Conflict("a concurrent change got there first") from error
            raise
        self._count("commit")
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    async def rollback(self) -> None:
        """Discard every uncommitted change."""
        self._after_commit.clear()
        if self._connection is not None:
            await self._connection.rollback()
        self._count("rollback")

    def _count(self, outcome: str) -> None:
        self._database.metrics.transactions.labels(self._database.name, outcome).inc()


class SqlUnitOfWorkFactory:
    """`ContextRegistry`'s `uow_factory`: a new `SqlUnitOfWork` on the database per call.

    `outbox`: the slipway.events outbox its events go to (default: the service's table).
    """

    def __init__(self, database: Database, outbox: Outbox | None = None) -> None:
        self._database = database
        self.outbox = change_outbox() if outbox is None else outbox

    def __call__(self) -> SqlUnitOfWork:
        """A fresh unit of work, to be entered with `async with`."""
        return SqlUnitOfWork(self._database, self.outbox)
