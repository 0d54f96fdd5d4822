"""The event pipeline: transactional outbox, relay, streams, consumer groups, fan-out and SSE."""

from slipway.events.consumer import (
    EventConsumer,
    EventHandler,
    first_delivery,
    processed_events_table,
)
from slipway.events.entry_ids import ENTRY_ID_PATTERN, is_entry_id, parse_entry_id
from slipway.events.envelope import Event, StreamEntry, new_event_id
from slipway.events.fanout_settings import FanoutSettings
from slipway.events.hub import StreamHub
from slipway.events.leadership import outbox_lock_key
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.notify import CommitSignal
from slipway.events.outbox import Backlog, Outbox, PendingEvent
from slipway.events.ports import (
    ConsumerGroupStream,
    EventPublisher,
    EventStream,
    MultiplexedEventStream,
    RetainedEventStream,
)
from slipway.events.redis_stream import RedisEventStream
from slipway.events.relay import OutboxRelay, RelayStatus, backoff_delay
from slipway.events.settings import OutboxSettings
from slipway.events.subscription import (
    EventStreamUnavailable,
    SubscriberDropped,
    Subscription,
    SubscriptionClosed,
    TooManySubscriptions,
)
from slipway.events.table import outbox_table

__all__ = [
    "ENTRY_ID_PATTERN",
    "Backlog",
    "CommitSignal",
    "ConsumerGroupStream",
    "Event",
    "EventConsumer",
    "EventHandler",
    "EventPublisher",
    "EventStream",
    "EventStreamUnavailable",
    "FanoutSettings",
    "InMemoryEventStream",
    "MultiplexedEventStream",
    "Outbox",
    "OutboxRelay",
    "OutboxSettings",
    "PendingEvent",
    "RedisEventStream",
    "RelayStatus",
    "RetainedEventStream",
    "StreamEntry",
    "StreamHub",
    "SubscriberDropped",
    "Subscription",
    "SubscriptionClosed",
    "TooManySubscriptions",
    "backoff_delay",
    "first_delivery",
    "is_entry_id",
    "new_event_id",
    "outbox_lock_key",
    "outbox_table",
    "parse_entry_id",
    "processed_events_table",
]
