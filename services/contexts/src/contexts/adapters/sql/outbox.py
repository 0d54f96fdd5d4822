"""The outbox on SQL: `SqlOutbox` writes events in the change's transaction, `SqlOutboxSource`
reads the committed ones for the relay.

Positions come from an autoincrement key, so they grow with insertion order. Two writers of
the same context are serialized by its version's primary key, so its events keep version
order; events of different contexts may commit out of position order, which is harmless
because `pending` rereads every unpublished row, not "rows after the last position".
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contexts.adapters.sql.clock import SystemClock
from contexts.adapters.sql.tables import outbox
from contexts.domain.events import ContextChanged
from contexts.domain.ports import Clock
from contexts.domain.relay import PendingEvent
from slipway.db import Database


class SqlOutbox:
    """The Outbox port: events inserted in the session's transaction (the unit of work's)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: ContextChanged) -> None:
        """Queue an event; it exists only if the change that raised it commits."""
        await self._session.execute(
            sa.insert(outbox).values(
                namespace=event.namespace,
                name=event.name,
                version=event.version,
                payload=event.to_json_dict(),
            )
        )


class SqlOutboxSource:
    """The relay's OutboxSource: committed, unpublished events by position."""

    def __init__(self, database: Database, *, clock: Clock | None = None) -> None:
        self._database = database
        self._clock = SystemClock() if clock is None else clock

    async def pending(self, limit: int) -> Sequence[PendingEvent]:
        """Up to `limit` unpublished events, lowest position first."""
        query = (
            sa.select(outbox.c.position, outbox.c.payload)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.position)
            .limit(limit)
        )
        async with self._database.sessionmaker() as session:
            rows = (await session.execute(query)).all()
        return [
            PendingEvent(position=position, event=ContextChanged.model_validate(payload))
            for position, payload in rows
        ]

    async def mark_published(self, positions: Sequence[int]) -> None:
        """Record that these events reached the stream; they are not returned again."""
        if not positions:
            return
        statement = (
            sa.update(outbox)
            .where(outbox.c.position.in_(list(positions)), outbox.c.published_at.is_(None))
            .values(published_at=self._clock.now())
        )
        async with self._database.unit_of_work() as uow:
            await uow.session.execute(statement)
