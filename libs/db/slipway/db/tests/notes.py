"""The ORM view of the sample migrations' notes table, for the tests."""

from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the test models."""


class Note(Base):
    """A row of `notes`."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(200), unique=True)


async def note_bodies(session: AsyncSession) -> list[str]:
    """Every note's body, sorted."""
    return list((await session.scalars(select(Note.body).order_by(Note.body))).all())


async def note_count(session: AsyncSession) -> int:
    """How many notes there are."""
    return int(await session.scalar(select(func.count()).select_from(Note)) or 0)
