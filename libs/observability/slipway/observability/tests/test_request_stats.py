"""The request families kept as plain numbers scrape exactly as prometheus_client's own
Counter, Histogram and Gauge with the same labels, fed the same requests, would."""

import itertools
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from slipway.observability.metrics import (
    DURATION_BUCKETS,
    DURATION_HELP,
    IN_PROGRESS_HELP,
    REQUESTS_HELP,
    record_readiness,
)
from slipway.observability.middleware import _KNOWN_METHODS, OTHER_METHOD, RequestMetrics

# (method, route, status, seconds): bucket edges, under and over every bound, repeats.
REQUESTS: list[tuple[str, str, int, float]] = [
    ("GET", "/items/{item_id}", 200, 0.0001),
    ("GET", "/items/{item_id}", 200, 0.005),
    ("GET", "/items/{item_id}", 404, 0.0050001),
    ("POST", "/items", 201, 0.1),
    ("BREW", "unmatched", 404, 0.0),
    ("GET", "/items/{item_id}", 200, 10.0),
    ("GET", "/slow", 200, 10.5),
    ("DELETE", "/items/{item_id}", 500, 2.4999),
    ("GET", "/items/{item_id}", 200, 0.75),
    ("GET", "/slow", 200, math.inf),
    *(("PUT", "/items/{item_id}", 204, bound) for bound in DURATION_BUCKETS),
]


class Reference:
    """What RequestMetrics recorded into before: prometheus_client's labelled metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("route", "method", "status")
        self.requests = Counter("http_requests", REQUESTS_HELP, labels, registry=registry)
        self.duration = Histogram(
            "http_request_duration_seconds",
            DURATION_HELP,
            labels,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.in_progress = Gauge(
            "http_requests_in_progress", IN_PROGRESS_HELP, ("method",), registry=registry
        )
        self.readiness = Gauge(
            "readiness_check_healthy",
            "1 when the readiness check passed on its last run, else 0.",
            ("check",),
            registry=registry,
        )
        for method in (*_KNOWN_METHODS, OTHER_METHOD):
            self.in_progress.labels(method=method)

    def started(self, method: str) -> str:
        label = method if method in _KNOWN_METHODS else OTHER_METHOD
        self.in_progress.labels(method=label).inc()
        return label

    def finished(self, method: str, route: str, status: int, elapsed: float) -> None:
        self.in_progress.labels(method=method).dec()
        labels = {"route": route, "method": method, "status": str(status)}
        self.requests.labels(**labels).inc()
        self.duration.labels(**labels).observe(elapsed)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Restarts time.time() at the same instant, counting up by one per call."""
    ticks: Iterator[float] = iter(())

    def restart() -> None:
        nonlocal ticks
        ticks = (1_700_000_000.0 + n for n in itertools.count())

    monkeypatch.setattr(time, "time", lambda: next(ticks))
    restart()
    return restart


def feed(recorder: Any, requests: list[tuple[str, str, int, float]], unfinished: int) -> None:
    labels = [recorder.started(method) for method, _, _, _ in requests]
    for label, (_, route, status, elapsed) in list(zip(labels, requests, strict=True))[unfinished:]:
        recorder.finished(label, route, status, elapsed)


def scrape_both(
    restart_clock: Callable[[], None], requests: list[tuple[str, str, int, float]]
) -> tuple[CollectorRegistry, CollectorRegistry]:
    expected, actual = CollectorRegistry(), CollectorRegistry()
    reference = Reference(expected)
    feed(reference, requests, unfinished=2)
    reference.readiness.labels(check="db").set(1.0)
    restart_clock()
    feed(RequestMetrics(registry=actual), requests, unfinished=2)
    record_readiness("db", True, registry=actual)
    return expected, actual


@pytest.mark.parametrize("created", [True, False])
def test_families_equal_prometheus_clients_own(
    fake_clock: Callable[[], None], monkeypatch: pytest.MonkeyPatch, created: bool
) -> None:
    monkeypatch.setattr(prometheus_metrics, "_use_created", created)
    expected, actual = scrape_both(fake_clock, REQUESTS)

    assert list(actual.collect()) == list(expected.collect())
    assert generate_latest(actual) == generate_latest(expected)
    assert openmetrics_latest(actual) == openmetrics_latest(expected)  # type: ignore[no-untyped-call]


def test_a_nan_duration_is_counted_in_no_bucket_as_before(fake_clock: Callable[[], None]) -> None:
    expected, actual = scrape_both(fake_clock, [*REQUESTS[:3], ("GET", "/x", 200, math.nan)])

    assert generate_latest(actual) == generate_latest(expected)


def test_clashing_names_are_refused_as_before() -> None:
    registry = CollectorRegistry()
    RequestMetrics(registry=registry)

    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("http_requests", "again", registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Gauge("http_request_duration_seconds_bucket", "again", registry=registry)


def test_restricted_scrapes_see_the_families(fake_clock: Callable[[], None]) -> None:
    expected, actual = scrape_both(fake_clock, REQUESTS)
    names = {"http_requests_total", "http_requests_in_progress"}

    def families(registry: CollectorRegistry) -> list[Any]:
        # A restricted registry visits its collectors in set order: compare by name.
        return sorted(registry.restricted_registry(names).collect(), key=lambda m: m.name)

    assert families(actual) == families(expected)
