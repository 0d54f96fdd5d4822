"""The event pipeline: transactional outbox, relay, streams, consumer groups, fan-out and SSE."""

from slipway.events.envelope import Event, StreamEntry, new_event_id
from slipway.events.ports import ConsumerGroupStream, EventPublisher, EventStream

__all__ = [
    "ConsumerGroupStream",
    "Event",
    "EventPublisher",
    "EventStream",
    "StreamEntry",
    "new_event_id",
]
