"""Prometheus metrics for read-through caches: hits, misses and loader calls."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from slipway.observability.registry import MetricsPerRegistry


@dataclass(frozen=True, slots=True)
class CacheMetrics:
    """The cache metric families registered on one registry."""

    requests: Counter
    loads: Counter
    errors: Counter


def _register(registry: CollectorRegistry) -> CacheMetrics:
    return CacheMetrics(
        requests=Counter(
            "cache_requests",
            "Cache lookups, by cache and result (hit or miss).",
            ("cache", "result"),
            registry=registry,
        ),
        loads=Counter(
            "cache_loads",
            "Loader calls on a miss, by cache and outcome (success or error).",
            ("cache", "outcome"),
            registry=registry,
        ),
        errors=Counter(
            "cache_backend_errors",
            "Redis failures the cache worked around by calling the loader.",
            ("cache",),
            registry=registry,
        ),
    )


cache_metrics = MetricsPerRegistry(_register)
"""The cache metric families on `registry` (default: the global one), made once."""
