"""Prometheus metrics for databases: pool gauges read at scrape time, connections opened,
closed and invalidated (pool churn), read retries, transaction outcomes."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool, QueuePool

from slipway.observability.registry import MetricsPerRegistry

PoolSource = Callable[[], Pool | None]


class PoolCollector(Collector):
    """Reports every registered pool's size, checked-out, idle and overflow connections."""

    def __init__(self) -> None:
        self._pools: dict[str, PoolSource] = {}
        self._lock = threading.Lock()

    def add(self, database: str, pool: PoolSource) -> None:
        """Report the pool `pool()` returns (None while closed) under label `database`."""
        with self._lock:
            self._pools[database] = pool

    def remove(self, database: str) -> None:
        """Stop reporting `database`."""
        with self._lock:
            self._pools.pop(database, None)

    def collect(self) -> Iterator[Metric]:
        """The pool gauges, one sample per open queue pool."""
        families = {
            "size": GaugeMetricFamily(
                "db_pool_size", "Connections the pool keeps open.", labels=["database"]
            ),
            "checked_out": GaugeMetricFamily(
                "db_pool_checked_out_connections",
                "Connections in use by the application.",
                labels=["database"],
            ),
            "idle": GaugeMetricFamily(
                "db_pool_idle_connections",
                "Open connections waiting in the pool.",
                labels=["database"],
            ),
            "overflow": GaugeMetricFamily(
                "db_pool_overflow_connections",
                "Connections open beyond pool_size (negative: not yet opened).",
                labels=["database"],
            ),
        }
        with self._lock:
            pools = list(self._pools.items())
        for database, source in pools:
            pool = source()
            if not isinstance(pool, QueuePool):
                continue
            families["size"].add_metric([database], pool.size())
            families["checked_out"].add_metric([database], pool.checkedout())
            families["idle"].add_metric([database], pool.checkedin())
            families["overflow"].add_metric([database], pool.overflow())
        yield from families.values()


@dataclass(frozen=True, slots=True)
class DatabaseMetrics:
    """The database metric families registered on one registry."""

    pools: PoolCollector
    transactions: Counter
    connections_opened: Counter
    connections_closed: Counter
    connections_invalidated: Counter
    read_retries: Counter

    def count_connection_events(self, engine: AsyncEngine, database: str) -> None:
        """Count `engine`'s pool opening, closing and invalidating connections as `database`."""
        opened = self.connections_opened.labels(database)
        closed = self.connections_closed.labels(database)
        hard = self.connections_invalidated.labels(database, "hard")
        soft = self.connections_invalidated.labels(database, "soft")

        def count(child: Any) -> Callable[..., None]:
            return lambda *_: child.inc()

        # Listeners on the Engine land on its pool, and survive dispose()'s pool re-creation.
        target = engine.sync_engine
        event.listen(target, "connect", count(opened))
        event.listen(target, "close", count(closed))  # hard invalidation closes too
        event.listen(target, "close_detached", count(closed))
        event.listen(target, "invalidate", count(hard))
        event.listen(target, "soft_invalidate", count(soft))


def _register(registry: CollectorRegistry) -> DatabaseMetrics:
    pools = PoolCollector()
    registry.register(pools)
    return DatabaseMetrics(
        pools=pools,
        transactions=Counter(
            "db_transactions",
            "Units of work finished, by database and outcome (commit or rollback).",
            ("database", "outcome"),
            registry=registry,
        ),
        connections_opened=Counter(
            "db_pool_connections_opened",
            "Database connections opened by the pool; growing after warm-up means churn.",
            ("database",),
            registry=registry,
        ),
        connections_closed=Counter(
            "db_pool_connections_closed",
            "Database connections closed by the pool (overflow returned, recycled, invalidated).",
            ("database",),
            registry=registry,
        ),
        connections_invalidated=Counter(
            "db_pool_connections_invalidated",
            "Connections found unusable (hard: closed now; soft: replaced at next checkout).",
            ("database", "kind"),
            registry=registry,
        ),
        read_retries=Counter(
            "db_read_retries",
            "Reads re-run on a fresh connection after a disconnect.",
            ("database",),
            registry=registry,
        ),
    )


database_metrics = MetricsPerRegistry(_register)
"""The database metric families on `registry` (default: the global one), made once."""
