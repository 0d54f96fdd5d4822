"""`ContextEventsConsumer`: other services' typed client for the contexts change events.

It reads one namespace's stream through a Redis consumer group, so the instances of a
service share the work and each event is handled by one of them, at least once: an event
is acknowledged only after the handler returned, a consumer that died holding events has
them claimed by another after `claim_idle_ms`, and a restarted consumer (same `consumer`
name) first handles what it had been given and not acknowledged. Handlers must therefore be
idempotent; per context, events come in version order except on such a redelivery.

```python
from contexts.adapters.redis_stream import RedisEventStream
from contexts.events.consumer import ContextEventsConsumer
from slipway.cache import RedisClient, RedisSettings

redis = RedisClient(RedisSettings(url="redis://redis:6379/0"))
consumer = ContextEventsConsumer(
    RedisEventStream(redis),
    namespace="billing",
    group="search-indexer",  # one group per consuming service
    consumer=f"search-indexer-{hostname}",  # stable per instance
)


async def reindex() -> None:
    async for event in consumer:  # acknowledged when the loop body finishes
        if event.action == "deleted":
            await index.remove(event.namespace, event.name)
        else:
            await index.refresh(event.namespace, event.name, event.version)
    # or, equivalently: await consumer.run(handle) with `async def handle(event)`
```

If the loop body raises, the exception leaves the `async for` and that event stays
unacknowledged (redelivered later); leaving the loop with `break` likewise leaves the last
event unacknowledged. `consumer.stop()` ends the iteration after the current event.
Events carry namespace, name, version, etag, action, actor and time, never the context's
body: fetch it from the contexts API with the consumer's own credentials.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol

from contexts.domain.events import ContextChanged
from contexts.domain.relay import StreamEntry


class ConsumerGroupStream(Protocol):
    """A stream with consumer groups (`contexts.adapters.redis_stream.RedisEventStream`)."""

    async def ensure_group(self, namespace: str, group: str, *, start_id: str = "0") -> None:
        """Create the group unless it exists."""
        ...

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
        """New entries for `consumer`, or (`pending`) those it holds unacknowledged."""
        ...

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
        """Take over entries idle longer than `min_idle_ms`; the next cursor and them."""
        ...

    async def ack(self, namespace: str, group: str, entry_ids: Sequence[str]) -> None:
        """Mark entries processed."""
        ...


class ContextEventsConsumer:
    """An async iterator of `ContextChanged` over a consumer group, acking after each."""

    def __init__(
        self,
        stream: ConsumerGroupStream,
        *,
        namespace: str,
        group: str,
        consumer: str,
        batch_size: int = 10,
        block_ms: int = 5_000,
        claim_idle_ms: int = 60_000,
        start_id: str = "0",
    ) -> None:
        self._stream = stream
        self.namespace = namespace
        self.group = group
        self.consumer = consumer
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._start_id = start_id
        self._stopping = False

    def stop(self) -> None:
        """End the iteration after the current event (or the current blocking read)."""
        self._stopping = True

    async def _batches(self) -> AsyncIterator[Sequence[StreamEntry]]:
        await self._stream.ensure_group(self.namespace, self.group, start_id=self._start_id)
        # What this consumer was given before a restart and did not acknowledge.
        while not self._stopping:
            mine = await self._stream.read_group(
                self.namespace,
                self.group,
                self.consumer,
                count=self._batch_size,
                block_ms=0,
                pending=True,
            )
            if not mine:
                break
            yield mine
        cursor = "0-0"
        while not self._stopping:
            # What dead consumers left behind, then what is new.
            cursor, claimed = await self._stream.claim(
                self.namespace,
                self.group,
                self.consumer,
                min_idle_ms=self._claim_idle_ms,
                count=self._batch_size,
                start=cursor,
            )
            if claimed:
                yield claimed
                continue
            fresh = await self._stream.read_group(
                self.namespace,
                self.group,
                self.consumer,
                count=self._batch_size,
                block_ms=self._block_ms,
            )
            if fresh:
                yield fresh

    async def __aiter__(self) -> AsyncIterator[ContextChanged]:
        """Each event once the previous one's handling finished (and was acknowledged)."""
        async for batch in self._batches():
            for entry in batch:
                yield entry.event
                # Resumed: the loop body returned without raising.
                await self._stream.ack(self.namespace, self.group, [entry.entry_id])
                if self._stopping:
                    return

    async def run(self, handler: Callable[[ContextChanged], Awaitable[None]]) -> None:
        """Call `handler` for each event, acknowledging it after the handler returns; until
        `stop()`. A handler's exception propagates and leaves that event unacknowledged."""
        async for event in self:
            await handler(event)
