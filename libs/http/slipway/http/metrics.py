"""The Prometheus metric families of outbound HTTP calls, created once per registry."""

import threading
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

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


_by_registry: "WeakKeyDictionary[CollectorRegistry, HttpClientMetrics]" = WeakKeyDictionary()
_lock = threading.Lock()


def http_client_metrics(registry: CollectorRegistry | None = None) -> HttpClientMetrics:
    """The families on `registry` (default: prometheus_client's global one), registered once."""
    target = REGISTRY if registry is None else registry
    with _lock:
        found = _by_registry.get(target)
        if found is None:
            labels = ("host", "method", "status")
            found = HttpClientMetrics(
                requests=Counter(
                    "http_client_requests",
                    "Outbound HTTP tries, by upstream host, method and status (or error kind).",
                    labels,
                    registry=target,
                ),
                duration=Histogram(
                    "http_client_request_duration_seconds",
                    "Duration of one outbound HTTP try.",
                    labels,
                    buckets=DURATION_BUCKETS,
                    registry=target,
                ),
                retries=Counter(
                    "http_client_retries",
                    "Outbound HTTP retries, by upstream host and what caused them.",
                    ("host", "reason"),
                    registry=target,
                ),
                budget_exhausted=Counter(
                    "http_client_retry_budget_exhausted",
                    "Retries skipped because the host's retry budget was spent.",
                    ("host",),
                    registry=target,
                ),
                circuit_state=Gauge(
                    "http_client_circuit_state",
                    "Circuit breaker state per upstream host: 0 closed, 1 half-open, 2 open.",
                    ("host",),
                    registry=target,
                ),
            )
            _by_registry[target] = found
        return found
