"""Per-request sessions through real FastAPI handlers: commit on return, rollback on error."""

from typing import Annotated

import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from slipway.config import Environment, ServiceSettings
from slipway.db import Database, SqlAlchemyUnitOfWork, session_dependency, unit_of_work_dependency
from slipway.db.tests.notes import Note, note_bodies
from slipway.web import ProblemError, ServiceParts, create_app
from slipway.web.testing import app_client


def notes_app(database: Database) -> FastAPI:
    session_dep = Annotated[AsyncSession, session_dependency(database)]
    uow_dep = Annotated[SqlAlchemyUnitOfWork, unit_of_work_dependency(database)]
    router = APIRouter()

    @router.post("/notes/{body}", status_code=201)
    async def add_note(body: str, session: session_dep) -> dict[str, str]:
        session.add(Note(body=body))  # flushed by the commit, after the handler returns
        if body.startswith("refused"):
            await session.flush()
            raise ProblemError(409, "refused after writing")
        if body.startswith("crash"):
            await session.flush()
            raise RuntimeError("handler bug")
        return {"body": body}

    @router.post("/uow/{body}", status_code=201)
    async def add_note_through_uow(body: str, uow: uow_dep) -> dict[str, str]:
        uow.session.add(Note(body=body))
        await uow.session.flush()
        if body.startswith("refused"):
            raise ProblemError(422, "refused after writing")
        return {"body": body}

    settings = ServiceSettings(service_name="db-test", environment=Environment.TEST)
    return create_app(
        settings,
        ServiceParts(
            routers=[router], resources=[database], readiness_checks=[database.readiness_check]
        ),
    )


async def stored(database: Database) -> list[str]:
    async with database.unit_of_work() as uow:
        return await note_bodies(uow.session)


@pytest.mark.parametrize("route", ["/notes", "/uow"])
async def test_handler_that_returns_commits(database: Database, route: str) -> None:
    async with app_client(notes_app(database)) as client:
        response = await client.post(f"{route}/hello")
        assert response.status_code == 201
        assert await stored(database) == ["hello"]


@pytest.mark.parametrize(("route", "status"), [("/notes", 409), ("/uow", 422)])
async def test_handler_that_raises_a_problem_rolls_back(
    database: Database, route: str, status: int
) -> None:
    async with app_client(notes_app(database)) as client:
        response = await client.post(f"{route}/refused")
        assert response.status_code == status
        assert await stored(database) == []


async def test_handler_that_crashes_rolls_back(database: Database) -> None:
    async with app_client(notes_app(database)) as client:
        response = await client.post("/notes/crash")
        assert response.status_code == 500
        assert await stored(database) == []


async def test_failing_commit_is_an_error_response_not_a_success(database: Database) -> None:
    async with app_client(notes_app(database)) as client:
        assert (await client.post("/notes/twice")).status_code == 201
        # The duplicate only fails at the commit: the client must not be told 201.
        assert (await client.post("/notes/twice")).status_code == 500
        assert await stored(database) == ["twice"]


async def test_ready_reports_the_database(database: Database) -> None:
    async with app_client(notes_app(database)) as client:
        response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"][database.name]["status"] == "ok"
