"""Which requests and failures are retried, and how long to wait before the next try."""

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from slipway.http.settings import RetrySettings

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
"""Methods safe to send twice. POST and PATCH only with an Idempotency-Key header."""

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

RETRIABLE_STATUSES = frozenset({429, 502, 503, 504})


def is_retry_safe(request: httpx.Request) -> bool:
    """Whether sending `request` again cannot do harm: an idempotent method or key."""
    if request.method in IDEMPOTENT_METHODS:
        return True
    return request.method in ("POST", "PATCH") and IDEMPOTENCY_KEY_HEADER in request.headers


def error_retry_reason(exc: httpx.TransportError) -> str | None:
    """The retry reason for a transport failure, or None when it must not be retried.

    Connect failures never reached the upstream; a dropped connection (reset, closed without
    a response) is retried for retry-safe requests only, like everything here. Read and write
    timeouts are not retried (a slow upstream gets no extra load), nor is a full local pool.
    """
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "connection_lost"
    return None


def status_retry_reason(status: int) -> str | None:
    """The retry reason for a response status (429, 502, 503, 504), else None."""
    return f"status_{status}" if status in RETRIABLE_STATUSES else None


def counts_against_upstream(exc: httpx.TransportError) -> bool:
    """Whether a transport failure is the upstream's doing (a full local pool is not)."""
    return not isinstance(
        exc, httpx.PoolTimeout | httpx.UnsupportedProtocol | httpx.LocalProtocolError
    )


def backoff_delay(retry: int, settings: RetrySettings, rng: random.Random) -> float:
    """Seconds before retry number `retry` (1-based): capped exponential, jittered."""
    delay = min(settings.backoff_max, settings.backoff_base * 2.0 ** (retry - 1))
    return delay * (1.0 - settings.jitter * rng.random())


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The response's Retry-After (delta-seconds or HTTP-date) in seconds, or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)
