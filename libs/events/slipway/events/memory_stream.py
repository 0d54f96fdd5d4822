"""`InMemoryEventStream`: the embedded default stream, with Redis Streams' semantics.

Entry ids follow Redis Streams (`<milliseconds>-<sequence>`, strictly increasing per stream),
so a client's `Last-Event-ID` means the same on either backend. Consumer groups keep a
pending list per group (entry, owner, delivery time), as XREADGROUP/XAUTOCLAIM/XACK do. The
history lives in this process only: gone on restart, unseen by other instances. With
`aggregate=<name>`, every event is also appended to the stream `<name>` (as on Redis).
"""

import asyncio
import bisect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from slipway.events.entry_ids import EntryKey, format_entry_id, parse_entry_id
from slipway.events.envelope import Event, StreamEntry

DEFAULT_MAXLEN = 10_000


@dataclass
class _Pending:
    consumer: str
    delivered_ms: float


@dataclass
class _Group:
    last_delivered: EntryKey
    pending: dict[str, _Pending] = field(default_factory=dict)


@dataclass
class _Stream:
    keys: list[EntryKey] = field(default_factory=list)
    entries: list[StreamEntry] = field(default_factory=list)
    last: EntryKey = (0, 0)
    groups: dict[str, _Group] = field(default_factory=dict)

    def after(self, cursor: EntryKey, limit: int) -> list[StreamEntry]:
        start = bisect.bisect_right(self.keys, cursor)
        return self.entries[start : start + limit]

    def find(self, entry_id: str) -> StreamEntry | None:
        key = parse_entry_id(entry_id)
        index = bisect.bisect_left(self.keys, key)
        if index < len(self.keys) and self.keys[index] == key:
            return self.entries[index]
        return None


class InMemoryEventStream:
    """A `ConsumerGroupStream` and `MultiplexedEventStream` in this process's memory.

    Each stream keeps about its last `maxlen` entries (trimmed in chunks, like Redis'
    approximate `MAXLEN ~`); `maxlen=None` keeps everything. Use one instance per event loop.
    A process's subscribers see only that process's events, so several worker processes
    (`web.workers > 1`) refuse it (`slipway.web.multiprocess`).
    """

    multiprocess_safe = False
    multiprocess_advice = (
        "configure Redis (redis.url): the event stream is in this process's memory"
    )

    def __init__(
        self,
        *,
        maxlen: int | None = DEFAULT_MAXLEN,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        aggregate: str | None = None,
    ) -> None:
        if maxlen is not None and maxlen < 1:
            raise ValueError("maxlen must be positive")
        self._maxlen = maxlen
        self.aggregate = aggregate
        self._clock = clock
        self._monotonic = monotonic
        self._streams: dict[str, _Stream] = {}
        self._changed = asyncio.Condition()

    def __len__(self) -> int:
        """Entries kept, over every stream."""
        return sum(len(stream.entries) for stream in self._streams.values())

    # -- EventStream -----------------------------------------------------------------------

    async def publish(self, events: Sequence[Event]) -> None:
        """Append the events in order, each to `event.stream`, and wake every reader."""
        if not events:
            return
        async with self._changed:
            for event in events:
                names = [event.stream]
                if self.aggregate is not None and self.aggregate != event.stream:
                    names.append(self.aggregate)
                for name in names:
                    stream = self._streams.setdefault(name, _Stream())
                    key = self._next_key(stream)
                    stream.keys.append(key)
                    stream.entries.append(StreamEntry(entry_id=format_entry_id(key), event=event))
                    stream.last = key
                    self._trim(stream)
            self._changed.notify_all()

    async def read(
        self, stream: str, *, after: str | None, limit: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """Up to `limit` entries after `after` (None: from the oldest kept), waiting up to
        `block_ms` for the first; ValueError on a malformed `after`."""
        found = await self.read_many({stream: after or "0-0"}, limit=limit, block_ms=block_ms)
        return found.get(stream, [])

    # -- MultiplexedEventStream ------------------------------------------------------------

    async def last_id(self, stream: str) -> str:
        """The id of the newest entry of `stream`, "0-0" when it has none."""
        found = self._streams.get(stream)
        return format_entry_id(found.last) if found is not None else "0-0"

    async def first_id(self, stream: str) -> str | None:
        """The id of the oldest entry `stream` still keeps, None when it has none."""
        found = self._streams.get(stream)
        return found.entries[0].entry_id if found is not None and found.entries else None

    async def read_many(
        self, after: Mapping[str, str], *, limit: int, block_ms: int
    ) -> Mapping[str, Sequence[StreamEntry]]:
        """Entries after each stream's id, up to `limit` per stream, waiting up to `block_ms`."""
        cursors = {name: parse_entry_id(entry_id) for name, entry_id in after.items()}
        if limit < 1:
            return {}
        found = self._read_cursors(cursors, limit)
        if found or block_ms <= 0:
            return found
        async with self._changed:
            try:
                async with asyncio.timeout(block_ms / 1000):
                    await self._changed.wait_for(lambda: bool(self._read_cursors(cursors, 1)))
            except TimeoutError:
                return {}
        return self._read_cursors(cursors, limit)

    # -- ConsumerGroupStream ---------------------------------------------------------------

    async def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> None:
        """Create `group` (and the stream) unless it exists; "0": from the oldest, "$": new."""
        found = self._streams.setdefault(stream, _Stream())
        if group in found.groups:
            return
        start = found.last if start_id == "$" else parse_entry_id(_full_id(start_id))
        found.groups[group] = _Group(last_delivered=start)

    async def group_position(self, stream: str, group: str) -> str | None:
        """The group's last delivered id, None when there is no such group."""
        found = self._streams.get(stream)
        if found is None or group not in found.groups:
            return None
        return format_entry_id(found.groups[group].last_delivered)

    async def set_group_position(self, stream: str, group: str, entry_id: str) -> None:
        """Create `group` at `entry_id`, or move it there: it delivers next what follows."""
        found = self._streams.setdefault(stream, _Stream())
        position = parse_entry_id(_full_id(entry_id))
        state = found.groups.get(group)
        if state is None:
            found.groups[group] = _Group(last_delivered=position)
        else:
            state.last_delivered = position

    async def read_group(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """Entries never delivered to the group, now `consumer`'s until acked."""
        state = self._group(stream, group)
        entries = self._streams[stream].after(state.last_delivered, count)
        if not entries and block_ms > 0:
            await self.read(
                stream, after=format_entry_id(state.last_delivered), limit=1, block_ms=block_ms
            )
            entries = self._streams[stream].after(state.last_delivered, count)
        now = self._monotonic() * 1000
        for entry in entries:
            state.pending[entry.entry_id] = _Pending(consumer, now)
        if entries:
            state.last_delivered = parse_entry_id(entries[-1].entry_id)
        return entries

    async def claim(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> Sequence[StreamEntry]:
        """Take over entries pending longer than `min_idle_ms` (those trimmed are dropped)."""
        state = self._group(stream, group)
        kept = self._streams[stream]
        now = self._monotonic() * 1000
        claimed: list[StreamEntry] = []
        for entry_id in sorted(state.pending, key=parse_entry_id):
            if len(claimed) >= count:
                break
            pending = state.pending[entry_id]
            if now - pending.delivered_ms < min_idle_ms:
                continue
            entry = kept.find(entry_id)
            if entry is None:  # trimmed away, as XAUTOCLAIM drops deleted entries
                del state.pending[entry_id]
                continue
            state.pending[entry_id] = _Pending(consumer, now)
            claimed.append(entry)
        return claimed

    async def ack(self, stream: str, group: str, entry_ids: Sequence[str]) -> None:
        """These entries are processed: the group never delivers them again."""
        state = self._group(stream, group)
        for entry_id in entry_ids:
            state.pending.pop(entry_id, None)

    def pending_count(self, stream: str, group: str) -> int:
        """How many entries the group delivered and has not acknowledged."""
        return len(self._group(stream, group).pending)

    # -- internals -------------------------------------------------------------------------

    def _group(self, stream: str, group: str) -> _Group:
        found = self._streams.get(stream)
        if found is None or group not in found.groups:
            raise LookupError(f"no consumer group {group!r} on stream {stream!r}")
        return found.groups[group]

    def _read_cursors(
        self, cursors: Mapping[str, EntryKey], limit: int
    ) -> dict[str, Sequence[StreamEntry]]:
        found: dict[str, Sequence[StreamEntry]] = {}
        for name, cursor in cursors.items():
            stream = self._streams.get(name)
            entries = stream.after(cursor, limit) if stream is not None else []
            if entries:
                found[name] = entries
        return found

    def _next_key(self, stream: _Stream) -> EntryKey:
        millis = int(self._clock() * 1000)
        last_millis, last_seq = stream.last
        if millis <= last_millis:
            return last_millis, last_seq + 1
        return (millis, 0) if millis > 0 else (0, 1)  # 0-0 is never an id, as in Redis

    def _trim(self, stream: _Stream) -> None:
        if self._maxlen is None:
            return
        excess = len(stream.entries) - self._maxlen
        # Trim in chunks of a tenth, so appends stay amortised O(1).
        if excess > max(1, self._maxlen // 10):
            del stream.keys[:excess]
            del stream.entries[:excess]


def _full_id(entry_id: str) -> str:
    # Redis accepts "0" (and "<ms>") for "<ms>-0".
    return entry_id if "-" in entry_id else f"{entry_id}-0"
