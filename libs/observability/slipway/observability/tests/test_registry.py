from prometheus_client import CollectorRegistry, Counter

from slipway.observability.registry import MetricsPerRegistry


def _register(registry: CollectorRegistry) -> Counter:
    return Counter("widgets", "Widgets made.", registry=registry)


def test_families_are_registered_once_per_registry() -> None:
    widgets = MetricsPerRegistry(_register)
    registry = CollectorRegistry()

    first = widgets(registry)
    first.inc()

    assert widgets(registry) is first
    assert registry.get_sample_value("widgets_total") == 1.0


def test_each_registry_gets_its_own_families() -> None:
    widgets = MetricsPerRegistry(_register)
    one, other = CollectorRegistry(), CollectorRegistry()

    widgets(one).inc(3)

    assert widgets(other) is not widgets(one)
    assert other.get_sample_value("widgets_total") == 0.0
