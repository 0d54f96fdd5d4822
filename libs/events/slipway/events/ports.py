"""The ports of the event pipeline; `slipway.events` has adapters for each.

- `EventPublisher`: where the relay puts committed outbox events (a stream);
- `EventStream`: a publisher that can also be read from an id on (SSE, watchers, the hub);
- `ConsumerGroupStream`: a stream with consumer groups (ack, claim) for other services;
- `MultiplexedEventStream`: a stream one reader follows over many keys (`StreamHub`);
- `RetainedEventStream`: a stream that tells what it still keeps, and moves groups (for a
  consumer to see that it fell behind the retention, and to resume after a backfill).
"""

from collections.abc import Mapping, Sequence
from typing import Protocol

from slipway.events.envelope import Event, StreamEntry


class EventPublisher(Protocol):
    """Appends events to their streams."""

    async def publish(self, events: Sequence[Event]) -> None:
        """Append the events, in order, each to `event.stream`; raise if unavailable."""
        ...


class EventStream(EventPublisher, Protocol):
    """Append-only streams that can be read from a position on."""

    async def read(
        self, stream: str, *, after: str | None, limit: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """Entries of `stream` after the id `after` (None: from the oldest kept), waiting up to
        `block_ms` for the first one; an empty list when none came."""
        ...


class ConsumerGroupStream(EventStream, Protocol):
    """A stream with consumer groups: each entry goes to one consumer of a group, until acked."""

    async def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> None:
        """Create `group` on `stream` unless it exists ("0": from the oldest kept, "$": new)."""
        ...

    async def read_group(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """Entries not yet delivered to the group, now `consumer`'s until acked."""
        ...

    async def claim(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> Sequence[StreamEntry]:
        """Take over entries other consumers left unacknowledged longer than `min_idle_ms`."""
        ...

    async def ack(self, stream: str, group: str, entry_ids: Sequence[str]) -> None:
        """These entries are processed: the group never delivers them again."""
        ...


class MultiplexedEventStream(EventStream, Protocol):
    """A stream that one reader can follow over several streams at once (the hub's)."""

    async def last_id(self, stream: str) -> str:
        """The id of the newest entry of `stream`, "0-0" when it has none."""
        ...

    async def read_many(
        self, after: Mapping[str, str], *, limit: int, block_ms: int
    ) -> Mapping[str, Sequence[StreamEntry]]:
        """Entries after each stream's id (up to `limit` per stream), in one read, waiting up
        to `block_ms` for the first; streams without new entries are left out."""
        ...


class RetainedEventStream(ConsumerGroupStream, Protocol):
    """A consumer-group stream that says what it keeps and where a group stands."""

    async def first_id(self, stream: str) -> str | None:
        """The id of the oldest entry `stream` still keeps, None when it has none."""
        ...

    async def last_id(self, stream: str) -> str:
        """The id of the newest entry of `stream`, "0-0" when it has none."""
        ...

    async def group_position(self, stream: str, group: str) -> str | None:
        """The group's last delivered id, None when there is no such group."""
        ...

    async def set_group_position(self, stream: str, group: str, entry_id: str) -> None:
        """Create `group` at `entry_id` or move it there: it delivers next what follows."""
        ...
