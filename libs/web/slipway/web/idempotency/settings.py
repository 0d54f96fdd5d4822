"""`IdempotencySettings`: what services nest in their settings to tune `Idempotency-Key`."""

from pydantic import BaseModel, Field, field_validator


class IdempotencySettings(BaseModel):
    """Which requests are guarded, how long they wait and are kept, and what is stored."""

    enabled: bool = True
    methods: tuple[str, ...] = ("POST", "PUT", "PATCH", "DELETE")
    wait_seconds: float = Field(
        default=10.0, ge=0, description="how long a duplicate waits for the first to complete"
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a reservation's lifetime: keep it above the longest request",
    )
    ttl_seconds: float = Field(default=86_400.0, gt=0, description="how long a response is kept")
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="larger responses are sent but not stored"
    )
    fingerprint_headers: tuple[str, ...] = ("content-type", "if-match", "if-none-match")
    stored_headers: tuple[str, ...] = ("content-type", "location", "etag")
    unstored_statuses: frozenset[int] = Field(
        default=frozenset({401, 403, 408, 409, 425, 429}),
        description="besides every 5xx: responses a retry under the same key should run again",
    )
    retry_after_seconds: int = Field(default=1, ge=0, description="on 409 request in progress")
    poll_initial_seconds: float = Field(default=0.02, gt=0)
    poll_max_seconds: float = Field(default=0.25, gt=0)

    @field_validator("methods")
    @classmethod
    def _upper_methods(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(method.upper() for method in methods)

    @field_validator("fingerprint_headers", "stored_headers")
    @classmethod
    def _lower_headers(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(name.lower() for name in names)

    def stores(self, status: int) -> bool:
        """Whether a response with `status` is kept for replay (never a 5xx)."""
        return status < 500 and status not in self.unstored_statuses
