"""`EventConsumer`: a typed consumer of one stream through a consumer group, at least once.

The instances of a consuming service share one group (one per consuming service), so each
event is handled by one of them. An event is acknowledged only after its handler returned;
entries a consumer was given and never acknowledged (it crashed, or its handler raised) are
claimed by a live consumer of the group once idle longer than `claim_idle_ms`, the restarted
consumer itself included. Handlers must therefore tolerate repeats: record `Event.id` in the
same transaction as the handler's effects (`first_delivery`, on a `processed_events_table`).
Per key, events come in publishing order except on such a redelivery.
"""

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from slipway.db import UtcDateTime
from slipway.events.envelope import Event, StreamEntry
from slipway.events.ports import ConsumerGroupStream
from slipway.events.table import EVENT_ID_LENGTH, NAME_LENGTH

logger = logging.getLogger("slipway.events")

EventHandler = Callable[[Event], Awaitable[None]]
"""Handles one event; returning acknowledges it, raising leaves it to be redelivered."""

DEFAULT_PROCESSED_TABLE_NAME = "slipway_processed_events"


class EventConsumer:
    """An async iterator of `Event`s of one stream over a consumer group, acking after each."""

    def __init__(
        self,
        streams: ConsumerGroupStream,
        *,
        stream: str,
        group: str,
        consumer: str,
        batch_size: int = 10,
        block_ms: int = 5_000,
        claim_idle_ms: int = 60_000,
        claim_interval_ms: int | None = None,
        start_id: str = "0",
    ) -> None:
        if batch_size < 1 or block_ms < 0 or claim_idle_ms < 0:
            raise ValueError("batch_size must be positive, block_ms and claim_idle_ms not negative")
        self._streams = streams
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        # Look for abandoned entries this often (default: twice per idle time), not per batch.
        interval = claim_interval_ms if claim_interval_ms is not None else claim_idle_ms // 2
        self._claim_interval = max(interval, 0) / 1000
        self._start_id = start_id
        self._stopping = False

    def __repr__(self) -> str:
        return (
            f"EventConsumer(stream={self.stream!r}, group={self.group!r}, "
            f"consumer={self.consumer!r})"
        )

    def stop(self) -> None:
        """End the iteration after the current event (or the current blocking read)."""
        self._stopping = True

    async def _batches(self) -> AsyncIterator[Sequence[StreamEntry]]:
        await self._streams.ensure_group(self.stream, self.group, start_id=self._start_id)
        next_claim = time.monotonic()  # first: what crashed consumers left behind
        while not self._stopping:
            if time.monotonic() >= next_claim:
                claimed = await self._streams.claim(
                    self.stream,
                    self.group,
                    self.consumer,
                    min_idle_ms=self._claim_idle_ms,
                    count=self._batch_size,
                )
                if claimed:
                    logger.info(
                        "consumer %s claimed %d abandoned entries of %s",
                        self.consumer,
                        len(claimed),
                        self.stream,
                    )
                    yield claimed
                    continue  # more may be waiting: claim again before reading new ones
                next_claim = time.monotonic() + self._claim_interval
            fresh = await self._streams.read_group(
                self.stream,
                self.group,
                self.consumer,
                count=self._batch_size,
                block_ms=self._block_ms,
            )
            if fresh:
                yield fresh

    async def __aiter__(self) -> AsyncIterator[Event]:
        """Each event once the previous one's handling finished (and was acknowledged).

        If the loop body raises, that event stays unacknowledged (redelivered by a claim);
        leaving the loop with `break` likewise leaves the last event unacknowledged."""
        async for batch in self._batches():
            for entry in batch:
                yield entry.event
                # Resumed: the loop body returned without raising.
                await self._streams.ack(self.stream, self.group, [entry.entry_id])
                if self._stopping:
                    return

    async def run(self, handler: EventHandler) -> None:
        """Call `handler` for each event, acknowledging it after the handler returns, until
        `stop()`. A handler's exception propagates and leaves that event unacknowledged."""
        async for event in self:
            await handler(event)


def processed_events_table(
    metadata: sa.MetaData, name: str = DEFAULT_PROCESSED_TABLE_NAME
) -> sa.Table:
    """A consumer's record of handled event ids (for `first_delivery`), on its own MetaData."""
    return sa.Table(
        name,
        metadata,
        sa.Column("consumer", sa.String(NAME_LENGTH), nullable=False),
        sa.Column("event_id", sa.String(EVENT_ID_LENGTH), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=f"pk_{name}"),
    )


async def first_delivery(
    session: AsyncSession, table: sa.Table, event: Event, *, consumer: str
) -> bool:
    """Record `event.id` for `consumer` in the session's transaction; False if already there.

    Call it in the unit of work that applies the event's effects: both commit or neither
    does, so a redelivered event is recognised and skipped."""
    values = {"consumer": consumer, "event_id": event.id, "processed_at": datetime.now(UTC)}
    dialect = session.get_bind().dialect.name
    statement: sa.Executable
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    else:
        raise NotImplementedError(f"first_delivery supports PostgreSQL and SQLite, not {dialect}")
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)
