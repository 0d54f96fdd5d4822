"""`SqlUnitOfWork`: the domain's UnitOfWork over one AsyncSession, hence one transaction."""

from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contexts.adapters.sql.audit import SqlAuditLog
from contexts.adapters.sql.errors import is_unique_violation
from contexts.adapters.sql.outbox import SqlOutbox, change_outbox
from contexts.adapters.sql.repository import SqlContextRepository
from contexts.domain.errors import Conflict
from slipway.db import Database
from slipway.events import Outbox


class _Open:
    """The session of an entered unit of work and the repositories sharing it."""

    def __init__(self, session: AsyncSession, outbox: Outbox) -> None:
        self.session = session
        self.contexts = SqlContextRepository(session)
        self.audit = SqlAuditLog(session)
        self.outbox = SqlOutbox(outbox, session)


class SqlUnitOfWork:
    """One transaction over the context versions, audit log and outbox.

    Entering opens a session (its transaction begins with the first statement); `commit`
    makes every change durable at once; leaving without committing rolls back. Use each
    instance once, as `ContextRegistry` does through `SqlUnitOfWorkFactory`.
    """

    def __init__(self, database: Database, outbox: Outbox) -> None:
        self._database = database
        self._outbox = outbox
        self._open: _Open | None = None

    def _entered(self) -> _Open:
        if self._open is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._open

    @property
    def session(self) -> AsyncSession:
        """The session of this unit of work (inside `async with` only)."""
        return self._entered().session

    @property
    def contexts(self) -> SqlContextRepository:
        """The context versions."""
        return self._entered().contexts

    @property
    def audit(self) -> SqlAuditLog:
        """The audit trail."""
        return self._entered().audit

    @property
    def outbox(self) -> SqlOutbox:
        """The outbox."""
        return self._entered().outbox

    async def __aenter__(self) -> Self:
        """Open the session."""
        if self._open is not None:
            raise RuntimeError("unit of work entered twice")
        self._open = _Open(self._database.sessionmaker(), self._outbox)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed and close the session."""
        session = self._entered().session
        try:
            if exc is not None and session.in_transaction():
                await self.rollback()
        finally:
            self._open = None
            await session.close()  # also discards an uncommitted (read-only) transaction

    async def commit(self) -> None:
        """Commit the transaction; `Conflict` if a uniqueness check failed only now."""
        try:
            await self.session.commit()
        except IntegrityError as error:
            self._count("rollback")
            if is_unique_violation(error):
                raise Conflict("a concurrent change got there first") from error
            raise
        self._count("commit")

    async def rollback(self) -> None:
        """Discard every uncommitted change."""
        await self.session.rollback()
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
