"""Metric families registered once per Prometheus registry, shared by every slipway lib."""

import threading
from collections.abc import Callable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry

M = TypeVar("M")


class MetricsPerRegistry(Generic[M]):
    """Builds a lib's metric families on a registry the first time they are asked for.

    prometheus_client refuses to register a metric name twice on one registry, yet several
    apps, clients or tests may share one; this hands each caller the same families.
    """

    def __init__(self, build: Callable[[CollectorRegistry], M]) -> None:
        self._build = build
        self._by_registry: WeakKeyDictionary[CollectorRegistry, M] = WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, registry: CollectorRegistry | None = None) -> M:
        """The families on `registry` (default: prometheus_client's global registry)."""
        target = REGISTRY if registry is None else registry
        with self._lock:
            found = self._by_registry.get(target)
            if found is None:
                found = self._build(target)
                self._by_registry[target] = found
            return found
