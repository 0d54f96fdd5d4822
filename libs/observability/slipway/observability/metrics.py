"""The Prometheus metric families Slipway services expose, created once per registry."""

from dataclasses import dataclass

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from slipway.observability.registry import MetricsPerRegistry

# prometheus_client's global registry: it already carries the process, platform and GC
# collectors, and whatever other libraries register lands on /metrics too.
DEFAULT_REGISTRY: CollectorRegistry = REGISTRY

# Latency buckets in seconds: fine-grained where API latencies live, up to 10 s.
DURATION_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    """The request and readiness metric families registered on one registry."""

    requests: Counter
    duration: Histogram
    in_progress: Gauge
    readiness: Gauge


def _register(registry: CollectorRegistry) -> HttpMetrics:
    return HttpMetrics(
        requests=Counter(
            "http_requests",
            "HTTP requests handled, by route template, method and status.",
            ("route", "method", "status"),
            registry=registry,
        ),
        duration=Histogram(
            "http_request_duration_seconds",
            "Time from receiving an HTTP request to finishing its response.",
            ("route", "method", "status"),
            buckets=DURATION_BUCKETS,
            registry=registry,
        ),
        in_progress=Gauge(
            "http_requests_in_progress",
            "HTTP requests being handled right now.",
            ("method",),
            registry=registry,
        ),
        readiness=Gauge(
            "readiness_check_healthy",
            "1 when the readiness check passed on its last run, else 0.",
            ("check",),
            registry=registry,
        ),
    )


http_metrics = MetricsPerRegistry(_register)
"""The metric families on `registry` (default: the global one), registering them once."""


def readiness_gauge(registry: CollectorRegistry | None = None) -> Gauge:
    """The `readiness_check_healthy{check=...}` gauge on `registry`."""
    return http_metrics(registry).readiness


def record_readiness(
    check: str, healthy: bool, *, registry: CollectorRegistry | None = None
) -> None:
    """Record the outcome of one readiness check run (1 healthy, 0 not)."""
    readiness_gauge(registry).labels(check=check).set(1.0 if healthy else 0.0)


def register_process_collectors(registry: CollectorRegistry) -> None:
    """Add process, platform and GC metrics to a custom registry (the default has them)."""
    if registry is DEFAULT_REGISTRY:
        return  # prometheus_client registered them on import; again would raise.
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
