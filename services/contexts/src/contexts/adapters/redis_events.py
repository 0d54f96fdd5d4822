"""Domain events on a Redis Stream (slipway.cache's client): one XADD per event."""

from contexts.domain.model import DomainEvent
from slipway.cache import RedisClient

MAX_STREAM_LENGTH = 100_000


class RedisStreamPublisher:
    """Appends each event to a stream as fields `type` and `data` (the event as JSON)."""

    def __init__(self, client: RedisClient, stream: str) -> None:
        self._client = client
        self.stream = client.key(stream)

    async def publish(self, event: DomainEvent) -> None:
        """XADD the event, trimming the stream to about MAX_STREAM_LENGTH entries."""
        await self._client.redis.xadd(
            self.stream,
            {"type": event.event_type, "data": event.model_dump_json()},
            maxlen=MAX_STREAM_LENGTH,
            approximate=True,
        )
