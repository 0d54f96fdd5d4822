"""`OutboxSettings`: how the outbox relay batches, polls, backs off and is woken."""

from pydantic import BaseModel, ConfigDict, Field


class OutboxSettings(BaseModel):
    """Nest in a service's settings, e.g. `outbox: OutboxSettings` (`<PREFIX>OUTBOX__...`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_size: int = Field(
        default=100, ge=1, le=10_000, description="Outbox events published per round"
    )
    poll_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Fallback: how often an idle relay looks at the outbox without a wake-up",
    )
    max_backoff_seconds: float = Field(
        default=30.0, gt=0, description="The longest wait between retries while publishing fails"
    )
    retry_base_seconds: float = Field(
        default=0.5, gt=0, description="The first wait after a failure; doubles up to the maximum"
    )
    lock_retry_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a standby relay tries to take over (bounds the takeover delay)",
    )
    channel: str = Field(
        default="slipway_outbox",
        min_length=1,
        max_length=63,
        pattern=r"^[a-z_][a-z0-9_]*$",
        description="PostgreSQL LISTEN/NOTIFY channel that wakes the relays",
    )
