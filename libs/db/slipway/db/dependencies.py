"""FastAPI dependencies: a session (or unit of work) per request, committed or rolled back."""

from collections.abc import AsyncIterator

from fastapi import params
from sqlalchemy.ext.asyncio import AsyncSession

from slipway.db.database import Database
from slipway.db.unit_of_work import SqlAlchemyUnitOfWork


def unit_of_work_dependency(database: Database) -> params.Depends:
    """`Annotated[SqlAlchemyUnitOfWork, unit_of_work_dependency(db)]`: one per request.

    Committed when the handler returns, rolled back when it raises (an HTTPException or
    ProblemError included). Scoped to the handler call, so the commit happens before the
    response is sent: a failing commit becomes an error response, never a false 2xx.
    """

    async def unit_of_work() -> AsyncIterator[SqlAlchemyUnitOfWork]:
        async with database.unit_of_work() as uow:
            yield uow

    return params.Depends(unit_of_work, scope="function")


def session_dependency(database: Database) -> params.Depends:
    """`Annotated[AsyncSession, session_dependency(db)]`: a request's session, as above."""

    async def session() -> AsyncIterator[AsyncSession]:
        async with database.unit_of_work() as uow:
            yield uow.session

    return params.Depends(session, scope="function")
