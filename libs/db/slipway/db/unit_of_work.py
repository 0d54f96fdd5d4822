"""The unit-of-work port, and its SQLAlchemy adapter: one session, one transaction."""

from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession


@runtime_checkable
class UnitOfWork(Protocol):
    """A transaction the application code commits or rolls back, whatever the storage."""

    async def commit(self) -> None:
        """Make the work done so far durable."""

    async def rollback(self) -> None:
        """Discard the work done since the last commit."""


class SqlAlchemyUnitOfWork:
    """A UnitOfWork over one AsyncSession; repositories use `.session`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def commit(self) -> None:
        """Commit the session's transaction."""
        await self.session.commit()

    async def rollback(self) -> None:
        """Roll the session's transaction back."""
        await self.session.rollback()
