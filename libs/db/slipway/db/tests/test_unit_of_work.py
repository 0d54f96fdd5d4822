"""Units of work on SQLite and the real PostgreSQL: commit on success, rollback on error."""

import pytest

from slipway.db import Database, UnitOfWork
from slipway.db.tests.notes import Note, note_bodies


class BoomError(Exception):
    pass


async def test_commits_when_the_block_succeeds(database: Database) -> None:
    async with database.unit_of_work() as uow:
        assert isinstance(uow, UnitOfWork)
        uow.session.add(Note(body="kept"))
    async with database.unit_of_work() as uow:
        assert await note_bodies(uow.session) == ["kept"]


async def add_then_fail(database: Database) -> None:
    async with database.unit_of_work() as uow:
        uow.session.add(Note(body="lost"))
        await uow.session.flush()  # the row reached the database inside the transaction
        raise BoomError


async def commit_one_then_fail(database: Database) -> None:
    async with database.unit_of_work() as uow:
        uow.session.add(Note(body="first"))
        await uow.commit()
        uow.session.add(Note(body="second"))
        raise BoomError


async def test_rolls_back_when_the_block_raises(database: Database) -> None:
    with pytest.raises(BoomError):
        await add_then_fail(database)
    async with database.unit_of_work() as uow:
        assert await note_bodies(uow.session) == []


async def test_explicit_commit_keeps_earlier_work(database: Database) -> None:
    with pytest.raises(BoomError):
        await commit_one_then_fail(database)
    async with database.unit_of_work() as uow:
        assert await note_bodies(uow.session) == ["first"]
