"""`EventsSettings`: how the outbox relay polls and where change events are streamed."""

from pydantic import BaseModel, ConfigDict, Field


class EventsSettings(BaseModel):
    """Nest as `events: EventsSettings` (`<PREFIX>EVENTS__BATCH_SIZE`, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    poll_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often the relay looks at the outbox when idle"
    )
    max_backoff_seconds: float = Field(
        default=30.0, gt=0, description="The longest wait between retries while the stream fails"
    )
    batch_size: int = Field(
        default=100, ge=1, le=10_000, description="Outbox events published per round"
    )
    stream_prefix: str = Field(
        default="contexts:events:", description="Redis key of a namespace's stream, before it"
    )
    stream_maxlen: int = Field(
        default=100_000, ge=1, description="Entries kept per namespace stream (about)"
    )
    sse_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="Comment lines keeping idle event streams open"
    )
