"""`RedisEventStream`: events on Redis Streams, with consumer groups, on slipway.cache.

Key `<client key prefix><prefix><stream>`; each entry holds the event's JSON in the field
`event`. Appends trim to about `maxlen` entries (`MAXLEN ~`). With `aggregate=<name>`, every
event is also appended to the stream `<name>` in the same MULTI/EXEC (one round trip), so a
consumer of every stream at once (an indexer, say) follows one key. Blocking reads are cut into
slices shorter than the client's socket timeout, so a long `block_ms` never trips it; a
blocked slice holds one pooled connection (which is why readers share a `StreamHub`).
"""

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from redis.exceptions import ResponseError

from slipway.cache import RedisClient
from slipway.events.envelope import Event, StreamEntry

logger = logging.getLogger("slipway.events")

EVENT_FIELD = b"event"
DEFAULT_PREFIX = "events:"
DEFAULT_MAXLEN = 100_000
# The longest single XREAD/XREADGROUP BLOCK, as a share of the socket timeout.
_BLOCK_SHARE_OF_SOCKET_TIMEOUT = 0.5

T = TypeVar("T")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisEventStream:
    """A `ConsumerGroupStream` and `MultiplexedEventStream` on a `RedisClient`."""

    def __init__(
        self,
        client: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int | None = DEFAULT_MAXLEN,
        aggregate: str | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._maxlen = maxlen
        self.aggregate = aggregate
        socket_timeout = client.settings.socket_timeout_seconds
        self._max_block_ms = max(1, int(socket_timeout * 1000 * _BLOCK_SHARE_OF_SOCKET_TIMEOUT))

    def key(self, stream: str) -> str:
        """The Redis key of `stream`."""
        return self._client.key(self._prefix + stream)

    # -- EventStream -----------------------------------------------------------------------

    async def publish(self, events: Sequence[Event]) -> None:
        """XADD every event, in order, in one MULTI/EXEC; raise if Redis fails.

        All or none of a batch is applied when the connection breaks before EXEC; if it
        breaks after, the caller's retry appends the batch twice (delivery is at least once).
        With an `aggregate` stream each event is appended to it too, in the same transaction.
        """
        if not events:
            return
        async with self._client.redis.pipeline(transaction=True) as pipe:
            for event in events:
                fields: dict[Any, Any] = {EVENT_FIELD: event.to_json()}
                for stream in _targets(event.stream, self.aggregate):
                    pipe.xadd(self.key(stream), fields, maxlen=self._maxlen, approximate=True)
            await pipe.execute()

    async def read(
        self, stream: str, *, after: str | None, limit: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """XREAD up to `limit` entries after `after` (None: from the oldest kept)."""
        found = await self.read_many({stream: after or "0-0"}, limit=limit, block_ms=block_ms)
        return found.get(stream, [])

    # -- MultiplexedEventStream ------------------------------------------------------------

    async def last_id(self, stream: str) -> str:
        """The id of the newest entry of `stream` (XREVRANGE), "0-0" when it has none."""
        reply = await self._client.redis.xrevrange(self.key(stream), count=1)
        newest = reply[0][0] if reply else None
        return _text(newest) if newest is not None else "0-0"

    async def first_id(self, stream: str) -> str | None:
        """The id of the oldest entry `stream` still keeps (XRANGE), None when it has none."""
        reply = await self._client.redis.xrange(self.key(stream), count=1)
        oldest = reply[0][0] if reply else None
        return _text(oldest) if oldest is not None else None

    async def read_many(
        self, after: Mapping[str, str], *, limit: int, block_ms: int
    ) -> Mapping[str, Sequence[StreamEntry]]:
        """One XREAD over every stream's key, waiting up to `block_ms` (in slices)."""
        if not after or limit < 1:
            return {}
        names = {self.key(stream): stream for stream in after}
        cursors: dict[Any, Any] = {self.key(stream): cursor for stream, cursor in after.items()}

        def xread(block: int | None) -> Awaitable[Any]:
            return self._client.redis.xread(cursors, count=limit, block=block)

        reply = await self._sliced(xread, block_ms)
        found: dict[str, Sequence[StreamEntry]] = {}
        for key, raw_entries in _by_key(reply):
            entries = [entry for entry in map(_decode, raw_entries) if entry is not None]
            if entries:
                found[names[_text(key)]] = entries
        return found

    # -- ConsumerGroupStream ---------------------------------------------------------------

    async def ensure_group(self, stream: str, group: str, *, start_id: str = "0") -> None:
        """XGROUP CREATE ... MKSTREAM unless the group exists ("0": oldest kept, "$": new)."""
        try:
            await self._client.redis.xgroup_create(
                self.key(stream), group, id=start_id, mkstream=True
            )
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    async def group_position(self, stream: str, group: str) -> str | None:
        """The group's last delivered id (XINFO GROUPS), None when there is no such group."""
        try:
            groups = await self._client.redis.xinfo_groups(self.key(stream))
        except ResponseError as exc:
            if "no such key" in str(exc).lower():
                return None
            raise
        for info in groups:
            if _text(info["name"]) == group:
                return _text(info["last-delivered-id"])
        return None

    async def set_group_position(self, stream: str, group: str, entry_id: str) -> None:
        """Create `group` at `entry_id`, or move it there (XGROUP SETID): it delivers next
        what follows `entry_id`; entries it delivered and nobody acked stay pending."""
        try:
            await self._client.redis.xgroup_create(
                self.key(stream), group, id=entry_id, mkstream=True
            )
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise
            await self._client.redis.xgroup_setid(self.key(stream), group, entry_id)

    async def read_group(
        self, stream: str, group: str, consumer: str, *, count: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """XREADGROUP `>`: new entries for `consumer`; undecodable ones are acked, skipped."""
        key = self.key(stream)

        def xreadgroup(block: int | None) -> Awaitable[Any]:
            return self._client.redis.xreadgroup(
                group, consumer, {key: ">"}, count=count, block=block
            )

        reply = await self._sliced(xreadgroup, block_ms)
        raw = [entry for _key, entries in _by_key(reply) for entry in entries]
        return await self._decode_or_ack(stream, group, raw)

    async def claim(
        self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int
    ) -> Sequence[StreamEntry]:
        """XAUTOCLAIM from the start: entries pending longer than `min_idle_ms`."""
        reply = await self._client.redis.xautoclaim(
            self.key(stream), group, consumer, min_idle_ms, start_id="0-0", count=count
        )
        return await self._decode_or_ack(stream, group, list(reply[1]))

    async def ack(self, stream: str, group: str, entry_ids: Sequence[str]) -> None:
        """XACK: these entries are processed; the group will not deliver them again."""
        if entry_ids:
            await self._client.redis.xack(self.key(stream), group, *entry_ids)

    # -- internals -------------------------------------------------------------------------

    async def _sliced(self, command: Callable[[int | None], Awaitable[T]], block_ms: int) -> T:
        """Run a blocking read in slices below the socket timeout until a reply or the end."""
        deadline = time.monotonic() + max(block_ms, 0) / 1000
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            block = min(remaining_ms, self._max_block_ms) if remaining_ms > 0 else None
            reply = await command(block)
            if reply or block is None:
                return reply

    async def _decode_or_ack(
        self, stream: str, group: str, raw_entries: Sequence[Any]
    ) -> list[StreamEntry]:
        # No consumer could ever process an undecodable entry: ack it, or it stays pending.
        decoded: list[StreamEntry] = []
        undecodable: list[str] = []
        for raw in raw_entries:
            entry = _decode(raw)
            if entry is None:
                undecodable.append(_text(raw[0]))
            else:
                decoded.append(entry)
        await self.ack(stream, group, undecodable)
        return decoded


def _targets(stream: str, aggregate: str | None) -> tuple[str, ...]:
    # The event's own stream, and the aggregate one unless it is the same.
    return (stream,) if aggregate is None or aggregate == stream else (stream, aggregate)


def _by_key(reply: Any) -> list[tuple[Any, list[Any]]]:
    # XREAD/XREADGROUP: [[key, [[id, fields], ...]], ...] (RESP2) or {key: [...]} (RESP3);
    # None when the block timed out.
    if not reply:
        return []
    if isinstance(reply, dict):
        return list(reply.items())
    return [(key, entries) for key, entries in reply]


def _decode(raw: Any) -> StreamEntry | None:
    entry_id, fields = _text(raw[0]), raw[1]
    value = (fields or {}).get(EVENT_FIELD)
    if value is None:
        logger.warning("stream entry %s has no event (trimmed or foreign); skipped", entry_id)
        return None
    try:
        event = Event.from_json(value)
    except ValueError as exc:
        logger.warning("stream entry %s skipped: %s", entry_id, exc)
        return None
    return StreamEntry(entry_id=entry_id, event=event)
