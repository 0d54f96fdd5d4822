"""`Subscription`: one subscriber's view of a stream through a `StreamHub`, and why it ends.

A subscription buffers what the hub's reader hands it (at most `queue_size` entries) and,
when resuming after an id, first pages through the backlog with direct reads up to the
position the hub had reached when it registered; entries are yielded in id order, each once.
"""

import asyncio
import collections
from types import TracebackType
from typing import Literal, Protocol

from slipway.events.entry_ids import EntryKey, format_entry_id, parse_entry_id
from slipway.events.envelope import StreamEntry
from slipway.events.ports import EventStream

LimitScope = Literal["principal", "total"]


class TooManySubscriptions(Exception):  # noqa: N818 - a refusal, not an error of ours
    """A subscription refused: the principal's or the process's limit is reached."""

    def __init__(self, scope: LimitScope, limit: int, retry_after_seconds: int) -> None:
        self.scope: LimitScope = scope
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
        who = "this caller" if scope == "principal" else "this server"
        super().__init__(f"{who} already has {limit} open event streams (the limit)")


class SubscriptionClosed(Exception):  # noqa: N818 - a close reason, raised to end iteration
    """The hub ended a subscription; `reason` says why, in words fit for the client."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class SubscriberDropped(SubscriptionClosed):
    """The subscriber fell more than `queue_size` entries behind; others are unaffected."""

    def __init__(self, reason: str = "slow consumer") -> None:
        super().__init__(reason)


class EventStreamUnavailable(SubscriptionClosed):
    """The stream cannot be read (e.g. Redis is down); resume later after the last id seen."""

    def __init__(self, reason: str = "event stream unavailable") -> None:
        super().__init__(reason)


class SubscriptionRegistry(Protocol):
    """What a subscription needs of its hub."""

    @property
    def event_stream(self) -> EventStream:
        """The stream backlogs are read from."""
        ...

    @property
    def replay_batch(self) -> int:
        """Entries per backlog page."""
        ...

    @property
    def queue_size(self) -> int:
        """Entries buffered per subscriber."""
        ...

    async def register(self, subscription: "Subscription") -> EntryKey:
        """Count it against the limits, follow its stream; the position live entries follow."""
        ...

    def unregister(self, subscription: "Subscription") -> None:
        """Stop delivering to it and release its place."""
        ...


class Subscription:
    """Entries of one stream for one subscriber: an async context manager and async iterator.

    Iteration ends at once after `close()`, and raises the `SubscriptionClosed` the hub
    ended it with (`SubscriberDropped`, `EventStreamUnavailable`, shutdown) once the
    entries buffered before that are consumed.
    """

    def __init__(
        self, hub: SubscriptionRegistry, stream: str, *, principal: str, after: str | None
    ) -> None:
        self.stream = stream
        self.principal = principal
        self.after = after
        self._after_key = parse_entry_id(after) if after is not None else None
        self._hub = hub
        self._buffer: collections.deque[StreamEntry] = collections.deque()
        self._wake = asyncio.Event()
        self._state: Literal["new", "open", "closed"] = "new"
        self._reason: SubscriptionClosed | None = None
        self._last: EntryKey = (0, 0)
        self._replay_page: collections.deque[StreamEntry] = collections.deque()
        self._replay_cursor: str | None = None
        self._replay_until: EntryKey | None = None

    def __repr__(self) -> str:
        return f"Subscription(stream={self.stream!r}, principal={self.principal!r})"

    @property
    def close_reason(self) -> SubscriptionClosed | None:
        """Why the hub ended it; None while open or when closed by its owner."""
        return self._reason

    @property
    def closed(self) -> bool:
        """Whether it was closed (by its owner or the hub)."""
        return self._state == "closed"

    async def open(self) -> "Subscription":
        """Register with the hub; raises `TooManySubscriptions` or `EventStreamUnavailable`."""
        if self._state != "new":
            raise RuntimeError("a subscription is opened once")
        position = await self._hub.register(self)
        self._state = "open"
        if self._after_key is None:
            self._last = position
        else:
            self._last = self._after_key
            if self._after_key < position:
                self._replay_cursor = format_entry_id(self._after_key)
                self._replay_until = position
        return self

    def close(self) -> None:
        """Stop receiving; iteration ends at once. Idempotent."""
        if self._state == "open":
            self._hub.unregister(self)
        self._state = "closed"
        self._wake.set()

    async def __aenter__(self) -> "Subscription":
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> StreamEntry:
        """The next entry in id order; waits for one while open."""
        if self._state == "new":
            raise RuntimeError("open the subscription first (async with / open())")
        while True:
            if self._state == "closed" and self._reason is None:
                raise StopAsyncIteration
            if self._replay_until is not None:
                replayed = await self._next_replayed(self._replay_until)
                if replayed is not None:
                    return replayed
                continue
            if self._buffer:
                entry = self._buffer.popleft()
                key = parse_entry_id(entry.entry_id)
                if key <= self._last:
                    continue  # already replayed from the backlog
                self._last = key
                return entry
            if self._reason is not None:
                raise self._reason
            if self._state == "closed":
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()

    # -- called by the hub -----------------------------------------------------------------

    def offer(self, entry: StreamEntry) -> bool:
        """Buffer a live entry; False when the buffer is full (the hub then drops it)."""
        if len(self._buffer) >= self._hub.queue_size:
            return False
        self._buffer.append(entry)
        self._wake.set()
        return True

    def end(self, reason: SubscriptionClosed) -> None:
        """The hub has let go of it: iteration raises `reason` after the buffered entries."""
        if self._state == "closed":
            return
        self._reason = reason
        self._state = "closed"
        self._wake.set()

    # -- internals -------------------------------------------------------------------------

    async def _next_replayed(self, until: EntryKey) -> StreamEntry | None:
        if not self._replay_page:
            if self._replay_cursor is None:
                self._replay_until = None
                return None
            await self._read_backlog_page(self._replay_cursor, until)
            if not self._replay_page:
                self._replay_until = None
                return None
        entry = self._replay_page.popleft()
        self._last = parse_entry_id(entry.entry_id)
        return entry

    async def _read_backlog_page(self, cursor: str, until: EntryKey) -> None:
        batch = self._hub.replay_batch
        try:
            page = await self._hub.event_stream.read(
                self.stream, after=cursor, limit=batch, block_ms=0
            )
        except Exception as exc:
            # What was buffered follows the backlog: yielding it would leave a gap.
            self._replay_until = None
            self._buffer.clear()
            if self._state == "open":
                self._hub.unregister(self)
            self.end(EventStreamUnavailable())
            raise EventStreamUnavailable() from exc
        kept = [entry for entry in page if parse_entry_id(entry.entry_id) <= until]
        self._replay_page.extend(kept)
        finished = len(page) < batch or len(kept) < len(page)
        self._replay_cursor = None if finished or not page else page[-1].entry_id
