"""The relay's Prometheus metrics, registered once per registry and labelled by relay name."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from slipway.observability.registry import MetricsPerRegistry


@dataclass(frozen=True, slots=True)
class RelayMetrics:
    """The relay's metric families on one registry."""

    pending: Gauge
    oldest_pending_age: Gauge
    up: Gauge
    leader: Gauge
    published: Counter
    failures: Counter


def _register(registry: CollectorRegistry) -> RelayMetrics:
    return RelayMetrics(
        pending=Gauge(
            "outbox_pending_events",
            "Outbox events not yet published, as the publishing relay last saw them.",
            ("relay",),
            registry=registry,
        ),
        oldest_pending_age=Gauge(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest unpublished outbox event the relay knows of; 0 when caught up.",
            ("relay",),
            registry=registry,
        ),
        up=Gauge(
            "outbox_relay_up",
            "1 while the relay's last round succeeded, 0 while publishing or the database fails.",
            ("relay",),
            registry=registry,
        ),
        leader=Gauge(
            "outbox_relay_leader",
            "1 while this relay is the one publishing its outbox, 0 while it stands by.",
            ("relay",),
            registry=registry,
        ),
        published=Counter(
            "outbox_published_events",
            "Outbox events published (repeats after a failure included).",
            ("relay",),
            registry=registry,
        ),
        failures=Counter(
            "outbox_relay_failures",
            "Relay rounds that failed (nothing of their batch was marked published).",
            ("relay",),
            registry=registry,
        ),
    )


relay_metrics = MetricsPerRegistry(_register)
