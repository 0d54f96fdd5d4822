"""Web settings a service nests in its `ServiceSettings` (e.g. `BILLING_WEB__MAX_BODY_BYTES`)."""

from typing import Self

from pydantic import BaseModel, Field, model_validator


class RateLimitSettings(BaseModel):
    """Token-bucket rate limit per principal or client IP (the backend comes with the parts)."""

    enabled: bool = True
    requests: int = Field(default=600, gt=0, description="requests allowed per window")
    window_seconds: float = Field(default=60.0, gt=0)
    exempt_paths: tuple[str, ...] = ("/health", "/ready", "/metrics")


class WebSettings(BaseModel):
    """HTTP behaviour shared by every service: CORS, limits, probes, shutdown, rate limits."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        description="processes serving on the one listening socket (docs/performance.md)",
    )

    cors_origins: list[str] = Field(default_factory=list)
    cors_methods: list[str] = Field(
        default_factory=lambda: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    )
    cors_headers: list[str] = Field(
        default_factory=lambda: ["Authorization", "Content-Type", "X-Request-ID"]
    )
    cors_allow_credentials: bool = False

    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    max_url_bytes: int = Field(
        default=8192, gt=0, description="longest request target (path and query): else 414"
    )
    max_header_bytes: int = Field(
        default=32768, gt=0, description="largest header block (names and values): else 431"
    )
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    shutdown_grace_seconds: int = Field(
        default=20, ge=0, description="how long in-flight requests may take after draining"
    )
    drain_delay_seconds: float = Field(
        default=5.0, ge=0, description="how long /ready answers 503 before the listener closes"
    )

    trust_forwarded_proto: bool = Field(
        default=False, description="believe X-Forwarded-Proto when deciding to send HSTS"
    )
    hsts_max_age_seconds: int = Field(default=31_536_000, ge=0)
    docs_enabled: bool = True

    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)

    @model_validator(mode="after")
    def _refuse_wildcard_with_credentials(self) -> Self:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError(
                "cors_origins may not contain '*' when cors_allow_credentials is true; "
                "list the allowed origins explicitly"
            )
        return self
