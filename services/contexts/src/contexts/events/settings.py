"""`EventsSettings`: where change events are streamed, and the slipway.events parts' settings."""

from pydantic import BaseModel, ConfigDict, Field

from slipway.events import FanoutSettings, OutboxSettings


class EventsSettings(BaseModel):
    """Nest as `events: EventsSettings` (`<PREFIX>EVENTS__STREAM_PREFIX`,
    `<PREFIX>EVENTS__OUTBOX__BATCH_SIZE`, `<PREFIX>EVENTS__FANOUT__PER_PRINCIPAL`, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stream_prefix: str = Field(
        default="contexts:events:", description="Redis key of a namespace's stream, before it"
    )
    stream_maxlen: int = Field(
        default=100_000, ge=1, description="Entries kept per namespace stream (about)"
    )
    aggregate_stream: str | None = Field(
        default="@all",
        pattern=r"^@[a-z0-9._-]{1,62}$",
        description="Stream every event is also appended to (in the same round trip), for "
        "indexers (`GET /v1/events` without namespace); `@` keeps it apart from namespaces. "
        "None: no aggregate stream",
    )
    visibility_cache_size: int = Field(
        default=10_000,
        ge=1,
        description="Contexts whose owner and ACL the process keeps to filter events (LRU)",
    )
    # The relay: batch size, fallback poll, backoff, LISTEN/NOTIFY channel.
    outbox: OutboxSettings = OutboxSettings()
    # The process's one stream reader and its SSE/MCP subscribers: limits per caller
    # (`per_principal`) and in total, buffering, heartbeats.
    fanout: FanoutSettings = FanoutSettings()
