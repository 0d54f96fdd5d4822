"""`FanoutSettings`: the limits and pacing of a process's `StreamHub` and its SSE streams."""

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FanoutSettings(BaseModel):
    """Nest in a service's settings, e.g. `fanout: FanoutSettings` (`<PREFIX>FANOUT__...`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_principal: int = Field(
        default=20, ge=1, description="Open subscriptions one principal may hold in this process"
    )
    total: int = Field(
        default=1_000, ge=1, description="Open subscriptions this process holds at most"
    )
    queue_size: int = Field(
        default=256,
        ge=1,
        description="Entries buffered per subscriber; a subscriber that falls further behind "
        "is dropped (slow consumer)",
    )
    retry_after_seconds: int = Field(
        default=5, ge=1, description="The Retry-After told to a caller refused for a limit"
    )
    read_batch: int = Field(
        default=100, ge=1, le=10_000, description="Entries the reader takes per stream per read"
    )
    read_block_ms: int = Field(
        default=5_000, ge=1, description="How long one read of the reader waits for entries"
    )
    replay_batch: int = Field(
        default=100, ge=1, le=10_000, description="Entries read per page when resuming"
    )
    retry_base_seconds: float = Field(
        default=0.2, gt=0, description="The first wait after a failed read; doubles"
    )
    max_backoff_seconds: float = Field(
        default=5.0, gt=0, description="The longest wait between reads while the stream fails"
    )
    unavailable_after_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long reads may fail before subscribers are closed with "
        '"event stream unavailable" (they resume with Last-Event-ID); 0 closes at once',
    )
    heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="SSE: a comment line after this long without an event"
    )
    reconnect_ms: int = Field(
        default=3_000, ge=0, description="SSE: the `retry` delay clients are told"
    )
    send_timeout_seconds: float = Field(
        default=30.0, gt=0, description="SSE: a client taking longer to accept a send is dropped"
    )
    shutdown_grace_seconds: float = Field(
        default=2.0,
        ge=0,
        description="SSE: how long a stream may take to end itself at server shutdown; keep "
        "it below slipway.web's shutdown_grace_seconds",
    )

    @model_validator(mode="after")
    def _per_principal_within_total(self) -> "FanoutSettings":
        if self.per_principal > self.total:
            raise ValueError("per_principal must not exceed total")
        return self
