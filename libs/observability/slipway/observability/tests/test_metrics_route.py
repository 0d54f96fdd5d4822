import httpx
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families

from slipway.observability import (
    MetricsMiddleware,
    add_metrics_route,
    record_readiness,
    register_process_collectors,
)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def build_app(registry: CollectorRegistry | None, path: str = "/metrics") -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    add_metrics_route(app, path, registry=registry)
    app.add_middleware(MetricsMiddleware, registry=registry, excluded_paths=(path,))
    return app


async def test_metrics_are_served_as_prometheus_text(registry: CollectorRegistry) -> None:
    async with client(build_app(registry)) as http:
        await http.get("/items/3")
        record_readiness("db", True, registry=registry)
        response = await http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    labels = (("method", "GET"), ("route", "/items/{item_id}"), ("status", "200"))
    assert samples[("http_requests_total", labels)] == 1
    assert samples[("http_request_duration_seconds_count", labels)] == 1
    assert samples[("http_requests_in_progress", (("method", "GET"),))] == 0
    assert samples[("readiness_check_healthy", (("check", "db"),))] == 1


async def test_openmetrics_is_served_when_the_scraper_asks(registry: CollectorRegistry) -> None:
    async with client(build_app(registry)) as http:
        await http.get("/items/3")
        response = await http.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    families = openmetrics(response.text)  # type: ignore[no-untyped-call]
    names = {family.name for family in families}
    assert {"http_requests", "http_request_duration_seconds"} <= names


async def test_metrics_route_honours_a_custom_path_and_stays_out_of_the_schema(
    registry: CollectorRegistry,
) -> None:
    app = build_app(registry, path="/internal/metrics")
    async with client(app) as http:
        assert (await http.get("/internal/metrics")).status_code == 200
        assert (await http.get("/metrics")).status_code == 404
        schema = (await http.get("/openapi.json")).json()

    assert "/internal/metrics" not in schema["paths"]


async def test_default_registry_carries_process_metrics() -> None:
    app = FastAPI()
    add_metrics_route(app)
    async with client(app) as http:
        body = (await http.get("/metrics")).text

    names = {family.name for family in text_string_to_metric_families(body)}
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "python_info"} <= names


def test_process_collectors_can_join_a_custom_registry(registry: CollectorRegistry) -> None:
    register_process_collectors(registry)

    assert registry.get_sample_value("process_resident_memory_bytes") is not None
    assert registry.get_sample_value("python_info", _python_info_labels(registry)) == 1


def _python_info_labels(registry: CollectorRegistry) -> dict[str, str]:
    for family in registry.collect():
        if family.name == "python_info":
            return dict(family.samples[0].labels)
    raise AssertionError("python_info missing")
