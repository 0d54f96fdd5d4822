"""Prometheus metrics for read-through caches: hits, misses and loader calls."""

import threading
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry, Counter


@dataclass(frozen=True, slots=True)
class CacheMetrics:
    """The cache metric families registered on one registry."""

    requests: Counter
    loads: Counter
    errors: Counter


_by_registry: "WeakKeyDictionary[CollectorRegistry, CacheMetrics]" = WeakKeyDictionary()
_lock = threading.Lock()


def cache_metrics(registry: CollectorRegistry | None = None) -> CacheMetrics:
    """The cache metric families on `registry` (default: the global one), made once."""
    target = REGISTRY if registry is None else registry
    with _lock:
        found = _by_registry.get(target)
        if found is None:
            found = CacheMetrics(
                requests=Counter(
                    "cache_requests",
                    "Cache lookups, by cache and result (hit or miss).",
                    ("cache", "result"),
                    registry=target,
                ),
                loads=Counter(
                    "cache_loads",
                    "Loader calls on a miss, by cache and outcome (success or error).",
                    ("cache", "outcome"),
                    registry=target,
                ),
                errors=Counter(
                    "cache_backend_errors",
                    "Redis failures the cache worked around by calling the loader.",
                    ("cache",),
                    registry=target,
                ),
            )
            _by_registry[target] = found
        return found
