"""The Prometheus metric families Slipway services expose, created once per registry."""

import threading
import time
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Gauge
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import INF, floatToGoString

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


REQUESTS_HELP = "HTTP requests handled, by route template, method and status."
DURATION_HELP = "Time from receiving an HTTP request to finishing its response."
IN_PROGRESS_HELP = "HTTP requests being handled right now."
_UPPER_BOUNDS: tuple[float, ...] = (*DURATION_BUCKETS, INF)
_LE_LABELS: tuple[str, ...] = tuple(
    floatToGoString(bound)  # type: ignore[no-untyped-call]
    for bound in _UPPER_BOUNDS
)


class RequestSeries:
    """One (route, method, status) series: its request count and its duration histogram."""

    __slots__ = ("buckets", "count", "count_created", "duration_created", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.buckets = [0] * len(_UPPER_BOUNDS)  # per bucket, not cumulative
        # Each of prometheus_client's label children takes its own creation time.
        self.count_created = time.time()
        self.duration_created = time.time()


class HttpRequestStats(Collector):
    """`http_requests_total{route,method,status}`, `http_request_duration_seconds{...}` and
    `http_requests_in_progress{method}` as plain numbers, turned into metric families when
    scraped.

    The families are what prometheus_client's Counter, Histogram and Gauge with those labels
    would give (same samples, labels, values and order, `_created` series included); keeping
    the numbers ourselves spares their per-call observability checks and the five locks
    taken per request (about 20 k instructions): one lock here guards a request's updates.
    """

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self.lock = threading.Lock()
        self._series: dict[tuple[str, str, str], RequestSeries] = {}
        self.in_progress: dict[str, int] = {}
        if registry is not None:
            registry.register(self)

    def series(self, route: str, method: str, status: str) -> RequestSeries:
        """The series of these label values, created (at zero) on first use."""
        with self.lock:
            found = self._series.get((route, method, status))
            if found is None:
                found = self._series[(route, method, status)] = RequestSeries()
            return found

    def bind_in_progress(self, method: str) -> None:
        """Expose `http_requests_in_progress{method}` (0 until a request starts)."""
        with self.lock:
            self.in_progress.setdefault(method, 0)

    def record(self, series: RequestSeries, method: str, elapsed: float) -> None:
        """A request of `series` finished after `elapsed` seconds; it is no longer in progress."""
        bucket = bisect_left(_UPPER_BOUNDS, elapsed)  # the first bound >= elapsed
        with self.lock:
            self.in_progress[method] -= 1
            series.count += 1
            series.sum += elapsed
            if elapsed <= _UPPER_BOUNDS[bucket]:  # false for NaN only, as in prometheus_client
                series.buckets[bucket] += 1

    def describe(self) -> Iterable[Metric]:
        """The families without samples: lets the registry refuse clashing names."""
        return self._families()

    def collect(self) -> Iterable[Metric]:
        """The three families with a snapshot of every series."""
        with self.lock:
            series = [
                (key, s.count, s.sum, list(s.buckets), s.count_created, s.duration_created)
                for key, s in self._series.items()
            ]
            in_progress = list(self.in_progress.items())
        requests, duration, gauge = families = self._families()
        created = prometheus_metrics._use_created  # disable_created_metrics() turns it off
        for (
            route,
            method,
            status,
        ), count, total, buckets, count_created, duration_created in series:
            requests.add_sample(
                "http_requests_total",
                {"route": route, "method": method, "status": status},
                float(count),
            )
            if created:
                requests.add_sample(
                    "http_requests_created",
                    {"route": route, "method": method, "status": status},
                    count_created,
                )
            cumulative = 0.0
            for le, observed in zip(_LE_LABELS, buckets, strict=True):
                cumulative += observed
                duration.add_sample(
                    "http_request_duration_seconds_bucket",
                    {"route": route, "method": method, "status": status, "le": le},
                    cumulative,
                )
            for suffix, value in (("_count", cumulative), ("_sum", total)):
                duration.add_sample(
                    "http_request_duration_seconds" + suffix,
                    {"route": route, "method": method, "status": status},
                    value,
                )
            if created:
                duration.add_sample(
                    "http_request_duration_seconds_created",
                    {"route": route, "method": method, "status": status},
                    duration_created,
                )
        for method, value in in_progress:
            gauge.add_sample("http_requests_in_progress", {"method": method}, float(value))
        return families

    @staticmethod
    def _families() -> list[Metric]:
        return [
            Metric("http_requests", REQUESTS_HELP, "counter"),
            Metric("http_request_duration_seconds", DURATION_HELP, "histogram"),
            Metric("http_requests_in_progress", IN_PROGRESS_HELP, "gauge"),
        ]


@dataclass(frozen=True, slots=True)
class HttpMetrics:
    """The request and readiness metric families registered on one registry."""

    requests: HttpRequestStats
    readiness: Gauge


def _register(registry: CollectorRegistry) -> HttpMetrics:
    return HttpMetrics(
        requests=HttpRequestStats(registry),
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
