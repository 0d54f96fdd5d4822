"""The Prometheus metric families of outbound HTTP calls, created once per registry."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from slipway.observability.registry import MetricsPerRegistry

DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(frozen=True, slots=True)
class HttpClientMetrics:
    """The outbound-HTTP metric families registered on one registry."""

    requests: Counter
    duration: Histogram
    retries: Counter
    budget_exhausted: Counter
    circuit_state: Gauge


def _register(registry: CollectorRegistry) -> HttpClientMetrics:
    labels = ("host", "method", "status")
    return HttpClientMetrics(
        requests=Counter(
            "http_client_requests",
            "Outbound HTTP tries, by upstream host, method and status (or error kind).",
            labels,
            registry=registry,
        ),
        duration=Histogram(
            "http_client_request_duration_seconds",
            "Duration of one outbound HTTP try.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        retries=Counter(
            "http_client_retries",
            "Outbound HTTP retries, by upstream host and what caused them.",
            ("host", "reason"),
            registry=registry,
        ),
        budget_exhausted=Counter(
            "http_client_retry_budget_exhausted",
            "Retries skipped because the host's retry budget was spent.",
            ("host",),
            registry=registry,
        ),
        circuit_state=Gauge(
            "http_client_circuit_state",
            "Circuit breaker state per upstream host: 0 closed, 1 half-open, 2 open.",
            ("host",),
            registry=registry,
        ),
    )


http_client_metrics = MetricsPerRegistry(_register)
"""The families on `registry` (default: prometheus_client's global one), registered once."""
