"""The event pipeline: transactional outbox, relay, streams, consumer groups, fan-out and SSE."""

from slipway.events.entry_ids import ENTRY_ID_PATTERN, is_entry_id, parse_entry_id
from slipway.events.envelope import Event, StreamEntry, new_event_id
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.ports import (
    ConsumerGroupStream,
    EventPublisher,
    EventStream,
    MultiplexedEventStream,
)
from slipway.events.redis_stream import RedisEventStream

__all__ = [
    "ENTRY_ID_PATTERN",
    "ConsumerGroupStream",
    "Event",
    "EventPublisher",
    "EventStream",
    "InMemoryEventStream",
    "MultiplexedEventStream",
    "RedisEventStream",
    "StreamEntry",
    "is_entry_id",
    "new_event_id",
    "parse_entry_id",
]
