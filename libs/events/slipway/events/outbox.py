"""`Outbox`: events written in the caller's transaction, and read back for the relay.

`add` inserts into the outbox table through the caller's session, so the rows exist only if
the caller's unit of work commits. On PostgreSQL it also issues `pg_notify` in the same
transaction (delivered to every LISTENing relay on commit), and in every process it fires the
outbox's `CommitSignal` after the commit, waking this process's relays at once.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from slipway.events.envelope import Event
from slipway.events.notify import CommitSignal, fire_on_commit, notify_statement

DEFAULT_CHANNEL = "slipway_outbox"


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An outbox event not yet published, with its position (the publishing order)."""

    position: int
    event: Event


@dataclass(frozen=True, slots=True)
class Backlog:
    """How many events wait, and when the oldest of them occurred (None: none wait)."""

    count: int
    oldest_occurred_at: datetime | None


class Outbox:
    """The outbox table's gateway: writes in a session, reads and marks on a connection."""

    def __init__(
        self,
        table: sa.Table,
        *,
        channel: str = DEFAULT_CHANNEL,
        signal: CommitSignal | None = None,
    ) -> None:
        self.table = table
        self.channel = channel
        self.committed = CommitSignal() if signal is None else signal

    def __repr__(self) -> str:
        return f"Outbox(table={self.table.name!r}, channel={self.channel!r})"

    async def add(self, session: AsyncSession, *events: Event) -> None:
        """Insert the events in the session's transaction; relays wake when it commits."""
        if not events:
            return
        await session.execute(
            sa.insert(self.table),
            [
                {
                    "event_id": event.id,
                    "stream": event.stream,
                    "type": event.type,
                    "key": event.key,
                    "payload": dict(event.payload),
                    "occurred_at": event.occurred_at,
                }
                for event in events
            ],
        )
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(notify_statement(self.channel))
        fire_on_commit(session.sync_session, self.committed)

    async def pending(self, connection: AsyncConnection, limit: int) -> list[PendingEvent]:
        """Up to `limit` committed, unpublished events, lowest position first."""
        c = self.table.c
        query = (
            sa.select(c.position, c.event_id, c.stream, c.type, c.key, c.payload, c.occurred_at)
            .where(c.published_at.is_(None))
            .order_by(c.position)
            .limit(limit)
        )
        rows = (await connection.execute(query)).all()
        return [
            PendingEvent(
                position=row.position,
                event=Event(
                    stream=row.stream,
                    type=row.type,
                    payload=row.payload,
                    key=row.key,
                    id=row.event_id,
                    occurred_at=row.occurred_at,
                ),
            )
            for row in rows
        ]

    async def mark_published(self, connection: AsyncConnection, positions: Sequence[int]) -> None:
        """Record that these events reached their streams; `pending` skips them from now on."""
        if not positions:
            return
        c = self.table.c
        await connection.execute(
            sa.update(self.table)
            .where(c.position.in_(list(positions)), c.published_at.is_(None))
            .values(published_at=datetime.now(UTC))
        )

    async def backlog(self, connection: AsyncConnection) -> Backlog:
        """The unpublished events' count and oldest `occurred_at` (one index scan)."""
        c = self.table.c
        query = sa.select(sa.func.count(), sa.func.min(c.occurred_at)).where(
            c.published_at.is_(None)
        )
        count, oldest = (await connection.execute(query)).one()
        return Backlog(count=int(count), oldest_occurred_at=oldest)
