"""Ports of the outbox relay: committed events waiting in the outbox, and where they go.

The relay moves events from the outbox (written in the same transaction as each change) to an
event stream, at least once and in outbox order, so events of one context arrive in version
order. The stream is a port of its own, separate from the context logic: Redis Streams in
production, in memory for the embedded default.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from contexts.domain.events import ContextChanged


@dataclass(frozen=True)
class PendingEvent:
    """An outbox event not yet published; `position` grows with commit order."""

    position: int
    event: ContextChanged


class OutboxSource(Protocol):
    """The committed outbox, as the relay reads it."""

    async def pending(self, limit: int) -> Sequence[PendingEvent]:
        """Up to `limit` unpublished events, lowest position first."""
        ...

    async def mark_published(self, positions: Sequence[int]) -> None:
        """Record that these events reached the stream; they are not returned again."""
        ...


@dataclass(frozen=True)
class StreamEntry:
    """An event as read back from the stream, with the stream's id for resuming."""

    entry_id: str
    event: ContextChanged


class EventStream(Protocol):
    """One append-only stream of change events per namespace."""

    async def publish(self, events: Sequence[ContextChanged]) -> None:
        """Append the events, in order, each to its namespace's stream; raise if unavailable."""
        ...

    async def read(
        self, namespace: str, *, after: str | None, limit: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """Entries of `namespace` after the id `after` (None: from the start), waiting up to
        `block_ms` for the first one."""
        ...
