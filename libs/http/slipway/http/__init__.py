"""Outbound HTTP for Slipway services: timeouts, retries with a budget, circuit breakers."""

from slipway.http.breaker import CircuitBreaker, CircuitState
from slipway.http.budget import RetryBudget
from slipway.http.client import REQUEST_ID_HEADER, ResilientClient
from slipway.http.errors import (
    CircuitOpenError,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from slipway.http.metrics import HttpClientMetrics, http_client_metrics
from slipway.http.readiness import UpstreamReadinessCheck
from slipway.http.retry_policy import IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_METHODS
from slipway.http.settings import BreakerSettings, HttpClientSettings, RetrySettings

__all__ = [
    "IDEMPOTENCY_KEY_HEADER",
    "IDEMPOTENT_METHODS",
    "REQUEST_ID_HEADER",
    "BreakerSettings",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "HttpClientMetrics",
    "HttpClientSettings",
    "ResilientClient",
    "RetryBudget",
    "RetrySettings",
    "UpstreamError",
    "UpstreamReadinessCheck",
    "UpstreamStatusError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "http_client_metrics",
]
