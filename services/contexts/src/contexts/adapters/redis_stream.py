"""`RedisEventStream`: change events on Redis Streams, one stream per namespace.

Key `<redis key prefix><prefix><namespace>`; each entry holds the event's JSON in the field
`event`. Appends trim to about `maxlen` entries (`MAXLEN ~`). Besides the `EventStream` port
(`publish`, `read` with `XREAD BLOCK`) it serves consumer groups for other services (see
`contexts.events.consumer`): `ensure_group` (`XGROUP CREATE ... MKSTREAM`), `read_group`
(`XREADGROUP`), `claim` (`XAUTOCLAIM`: take over entries a dead consumer left unacknowledged)
and `ack` (`XACK`). Delivery through a group is at least once.

Blocking reads are cut into slices shorter than the client's socket timeout (slipway.cache
defaults it to 1 s), so a long `block_ms` never trips it; a blocked slice holds one pooled
connection.
"""

import logging
import time
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from redis.exceptions import ResponseError

from contexts.domain.events import ContextChanged
from contexts.domain.relay import StreamEntry
from slipway.cache import RedisClient

logger = logging.getLogger(__name__)

EVENT_FIELD = b"event"
DEFAULT_PREFIX = "contexts:events:"
DEFAULT_MAXLEN = 100_000
# The longest single XREAD/XREADGROUP BLOCK, as a share of the socket timeout.
_BLOCK_SHARE_OF_SOCKET_TIMEOUT = 0.5


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisEventStream:
    """An `EventStream` (and consumer-group stream) on a `slipway.cache.RedisClient`."""

    def __init__(
        self,
        redis_client: RedisClient,
        *,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int | None = DEFAULT_MAXLEN,
    ) -> None:
        self._client = redis_client
        self._prefix = prefix
        self._maxlen = maxlen
        socket_timeout = redis_client.settings.socket_timeout_seconds
        self._max_block_ms = max(1, int(socket_timeout * 1000 * _BLOCK_SHARE_OF_SOCKET_TIMEOUT))

    def key(self, namespace: str) -> str:
        """The Redis key of `namespace`'s stream."""
        return self._client.key(self._prefix + namespace)

    # -- EventStream -----------------------------------------------------------------------

    async def publish(self, events: Sequence[ContextChanged]) -> None:
        """XADD every event, in order, in one MULTI/EXEC; raise if Redis fails.

        The transaction applies all or none of a batch when the connection breaks before
        EXEC; if it breaks after EXEC, the caller retries and the batch is appended twice
        (at least once).
        """
        if not events:
            return
        async with self._client.redis.pipeline(transaction=True) as pipe:
            for event in events:
                pipe.xadd(
                    self.key(event.namespace),
                    {EVENT_FIELD: event.model_dump_json()},
                    maxlen=self._maxlen,
                    approximate=True,
                )
            await pipe.execute()

    async def read(
        self, namespace: str, *, after: str | None, limit: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        """XREAD up to `limit` entries after `after` (None: from the oldest kept), blocking
        up to `block_ms` for the first."""
        key = self.key(namespace)
        cursor = after or "0-0"
        deadline = time.monotonic() + max(block_ms, 0) / 1000
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            block = min(remaining_ms, self._max_block_ms) if remaining_ms > 0 else None
            reply = await self._client.redis.xread({key: cursor}, count=limit, block=block)
            entries = self._entries(reply)
            if entries or block is None:
                return [entry for entry in map(self._decode, entries) if entry is not None]

    # -- consumer groups -------------------------------------------------------------------

    async def ensure_group(self, namespace: str, group: str, *, start_id: str = "0") -> None:
        """Create `group` on the stream (and the stream) unless it exists; `start_id` "0":
        the group starts with the retained history, "$": with entries added from now."""
        try:
            await self._client.redis.xgroup_create(
                self.key(namespace), group, id=start_id, mkstream=True
            )
        except ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    async def read_group(
        self,
        namespace: str,
        group: str,
        consumer: str,
        *,
        count: int,
        block_ms: int,
        pending: bool = False,
    ) -> Sequence[StreamEntry]:
        """XREADGROUP: new entries for `consumer` (`>`), blocking up to `block_ms`; with
        `pending`, the entries already delivered to it and not acknowledged (`0`), at once.

        Entries that cannot be decoded (or were trimmed away) are acknowledged and skipped:
        no consumer could ever process them.
        """
        key = self.key(namespace)
        stream_id = "0" if pending else ">"
        deadline = time.monotonic() + max(block_ms, 0) / 1000
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            block = None
            if not pending and remaining_ms > 0:
                block = min(remaining_ms, self._max_block_ms)
            reply = await self._client.redis.xreadgroup(
                group, consumer, {key: stream_id}, count=count, block=block
            )
            entries = self._entries(reply)
            if entries or block is None:
                return await self._decode_or_ack(namespace, group, entries)

    async def claim(
        self,
        namespace: str,
        group: str,
        consumer: str,
        *,
        min_idle_ms: int,
        count: int,
        start: str = "0-0",
    ) -> tuple[str, Sequence[StreamEntry]]:
        """XAUTOCLAIM: take over for `consumer` up to `count` entries other consumers left
        pending longer than `min_idle_ms`; returns the cursor to continue from ("0-0": the
        scan is complete) and the entries, which are now this consumer's to process."""
        reply = await self._client.redis.xautoclaim(
            self.key(namespace), group, consumer, min_idle_ms, start_id=start, count=count
        )
        cursor, claimed = _text(reply[0]), list(reply[1])
        return cursor, await self._decode_or_ack(namespace, group, claimed)

    async def ack(self, namespace: str, group: str, entry_ids: Sequence[str]) -> None:
        """XACK: these entries are processed; the group will not deliver them again."""
        if entry_ids:
            await self._client.redis.xack(self.key(namespace), group, *entry_ids)

    # -- decoding --------------------------------------------------------------------------

    @staticmethod
    def _entries(reply: Any) -> list[Any]:
        # XREAD/XREADGROUP reply for one key: [[key, [[id, {field: value}], ...]]] (RESP2),
        # {key: [[id, fields], ...]} (RESP3); None when the block timed out.
        if not reply:
            return []
        if isinstance(reply, dict):
            return [entry for entries in reply.values() for entry in entries]
        return [entry for _key, entries in reply for entry in entries]

    def _decode(self, entry: Any) -> StreamEntry | None:
        entry_id, fields = _text(entry[0]), entry[1]
        raw = (fields or {}).get(EVENT_FIELD)
        if raw is None:
            logger.warning("stream entry %s has no event (trimmed or foreign)", entry_id)
            return None
        try:
            event = ContextChanged.model_validate_json(raw)
        except ValidationError:
            logger.exception("stream entry %s holds no valid ContextChanged", entry_id)
            return None
        return StreamEntry(entry_id=entry_id, event=event)

    async def _decode_or_ack(
        self, namespace: str, group: str, entries: Sequence[Any]
    ) -> list[StreamEntry]:
        decoded: list[StreamEntry] = []
        undecodable: list[str] = []
        for entry in entries:
            found = self._decode(entry)
            if found is None:
                undecodable.append(_text(entry[0]))
            else:
                decoded.append(found)
        await self.ack(namespace, group, undecodable)
        return decoded
