"""Settings for one outbound HTTP client: timeouts, pool limits, retries, circuit breaker."""

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetrySettings(BaseModel):
    """When and how often a failed request is tried again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=3, ge=1, description="Tries per call, the first included.")
    backoff_base: float = Field(default=0.1, ge=0, description="Delay before the first retry.")
    backoff_max: float = Field(default=2.0, ge=0, description="Cap on the exponential delay.")
    jitter: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of each delay drawn at random: 0 none, 1 full jitter (0..delay).",
    )
    retry_after_max: float = Field(
        default=5.0, ge=0, description="Cap on a Retry-After the upstream asks for, in seconds."
    )
    budget_ratio: float = Field(
        default=0.2, ge=0, description="Retries allowed per original request over the window."
    )
    budget_min_per_second: float = Field(
        default=1.0, ge=0, description="Retries always allowed per second, however few requests."
    )
    budget_window: float = Field(default=10.0, gt=0, description="Retry budget window, seconds.")


class BreakerSettings(BaseModel):
    """When the per-host circuit breaker opens, and how it recovers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failures that open the circuit."
    )
    failure_ratio: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Also open when this share of requests in the window failed (None: off).",
    )
    window: float = Field(default=30.0, gt=0, description="Failure-ratio window, seconds.")
    minimum_requests: int = Field(
        default=20, ge=1, description="Requests in the window before the ratio counts."
    )
    open_duration: float = Field(
        default=30.0, gt=0, description="Seconds the circuit stays open before probing."
    )
    half_open_probes: int = Field(
        default=1, ge=1, description="Trial requests in half-open; that many successes close it."
    )


class HttpClientSettings(BaseModel):
    """One upstream's client: nest it in a service's settings (BILLING_PAYMENTS__BASE_URL)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = ""
    connect_timeout: float = Field(default=2.0, gt=0)
    read_timeout: float = Field(default=5.0, gt=0)
    write_timeout: float = Field(default=5.0, gt=0)
    pool_timeout: float = Field(default=2.0, gt=0, description="Wait for a free connection.")
    total_timeout: float = Field(
        default=10.0, gt=0, description="Whole call, every retry and backoff included."
    )
    max_connections: int = Field(default=100, ge=1)
    max_keepalive: int = Field(default=20, ge=0)
    keepalive_expiry: float = Field(default=5.0, ge=0)
    raise_for_status: bool = Field(
        default=True, description="Raise UpstreamStatusError for any final status >= 400."
    )
    retry: RetrySettings = RetrySettings()
    breaker: BreakerSettings = BreakerSettings()

    @model_validator(mode="after")
    def _keepalive_within_pool(self) -> "HttpClientSettings":
        if self.max_keepalive > self.max_connections:
            raise ValueError("max_keepalive cannot exceed max_connections")
        return self
