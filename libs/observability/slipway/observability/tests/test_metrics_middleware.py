import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from slipway.observability import MetricsMiddleware, add_metrics_route, record_readiness


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def build_app(registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def get_item(item_id: int) -> dict[str, int]:
        if item_id == 0:
            raise HTTPException(status_code=404, detail="no such item")
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    v1 = APIRouter()

    @v1.get("/items/{item_id}")
    async def get_v1_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.include_router(v1, prefix="/v1")

    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi " + request.path_params["name"])

    app.mount("/tenants/{tenant}", Starlette(routes=[Route("/hello/{name}", hello)]))
    add_metrics_route(app, registry=registry)
    app.add_middleware(MetricsMiddleware, registry=registry)
    return app


def count(registry: CollectorRegistry, route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return registry.get_sample_value("http_requests_total", labels) or 0.0


def observed(registry: CollectorRegistry, route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return registry.get_sample_value("http_request_duration_seconds_count", labels) or 0.0


def routes_seen(registry: CollectorRegistry) -> set[str]:
    return {
        sample.labels["route"]
        for metric in registry.collect()
        if metric.name == "http_requests"
        for sample in metric.samples
    }


async def test_requests_are_labelled_by_route_template_not_raw_path(
    registry: CollectorRegistry,
) -> None:
    async with client(build_app(registry)) as http:
        for item_id in (1, 2, 42):
            assert (await http.get(f"/items/{item_id}")).status_code == 200

    assert count(registry, "/items/{item_id}", "GET", "200") == 3
    assert observed(registry, "/items/{item_id}", "GET", "200") == 3
    assert routes_seen(registry) == {"/items/{item_id}"}


async def test_status_of_a_matched_route_is_the_status_sent(registry: CollectorRegistry) -> None:
    async with client(build_app(registry)) as http:
        assert (await http.get("/items/0")).status_code == 404
        assert (await http.get("/items/not-a-number")).status_code == 422
        assert (await http.post("/items/1")).status_code == 405

    assert count(registry, "/items/{item_id}", "GET", "404") == 1
    assert count(registry, "/items/{item_id}", "GET", "422") == 1
    assert count(registry, "/items/{item_id}", "POST", "405") == 1


async def test_unknown_paths_share_one_unmatched_label(registry: CollectorRegistry) -> None:
    async with client(build_app(registry)) as http:
        for path in ("/nope", "/wp-admin.php", "/a/b/c"):
            assert (await http.get(path)).status_code == 404

    assert count(registry, "unmatched", "GET", "404") == 3
    assert routes_seen(registry) == {"unmatched"}


async def test_unusual_methods_share_one_label(registry: CollectorRegistry) -> None:
    async with client(build_app(registry)) as http:
        await http.request("BREW", "/nope")
        await http.request("PROPFIND", "/nope")

    assert count(registry, "unmatched", "OTHER", "404") == 2


async def test_routes_of_included_routers_keep_their_prefix(registry: CollectorRegistry) -> None:
    async with client(build_app(registry)) as http:
        assert (await http.get("/v1/items/7")).status_code == 200
        assert (await http.get("/items/7")).status_code == 200

    assert count(registry, "/v1/items/{item_id}", "GET", "200") == 1
    assert count(registry, "/items/{item_id}", "GET", "200") == 1


async def test_mounted_apps_are_labelled_by_mount_and_route_templates(
    registry: CollectorRegistry,
) -> None:
    async with client(build_app(registry)) as http:
        assert (await http.get("/tenants/acme/hello/bob")).text == "hi bob"
        assert (await http.get("/tenants/globex/hello/ann")).status_code == 200

    assert count(registry, "/tenants/{tenant}/hello/{name}", "GET", "200") == 2


async def test_an_unhandled_error_counts_as_500(registry: CollectorRegistry) -> None:
    app = build_app(registry)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/boom")).status_code == 500

    assert count(registry, "/boom", "GET", "500") == 1
    assert registry.get_sample_value("http_requests_in_progress", {"method": "GET"}) == 0


async def test_in_progress_gauge_rises_during_a_request_and_falls_after(
    registry: CollectorRegistry,
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        entered.set()
        await release.wait()
        return {"ok": True}

    app.add_middleware(MetricsMiddleware, registry=registry)

    def in_progress() -> float | None:
        return registry.get_sample_value("http_requests_in_progress", {"method": "GET"})

    async with client(app) as http:
        assert not in_progress()  # None: the middleware binds its gauges on first use
        pending = asyncio.create_task(http.get("/slow"))
        await asyncio.wait_for(entered.wait(), timeout=5)
        assert in_progress() == 1
        release.set()
        assert (await pending).status_code == 200
    assert in_progress() == 0
    assert count(registry, "/slow", "GET", "200") == 1


async def test_the_metrics_route_itself_is_not_counted(registry: CollectorRegistry) -> None:
    async with client(build_app(registry)) as http:
        assert (await http.get("/metrics")).status_code == 200

    assert routes_seen(registry) == set()


async def test_other_registries_and_apps_are_independent(registry: CollectorRegistry) -> None:
    other = CollectorRegistry()
    async with client(build_app(registry)) as first, client(build_app(other)) as second:
        await first.get("/items/1")
        await second.get("/items/1")
        await second.get("/items/2")

    assert count(registry, "/items/{item_id}", "GET", "200") == 1
    assert count(other, "/items/{item_id}", "GET", "200") == 2


async def test_two_middlewares_on_one_registry_share_the_metrics(
    registry: CollectorRegistry,
) -> None:
    async with client(build_app(registry)) as first, client(build_app(registry)) as second:
        await first.get("/items/1")
        await second.get("/items/1")

    assert count(registry, "/items/{item_id}", "GET", "200") == 2


def test_readiness_gauge_reports_each_check(registry: CollectorRegistry) -> None:
    record_readiness("postgres", True, registry=registry)
    record_readiness("redis", False, registry=registry)
    record_readiness("redis", True, registry=registry)
    record_readiness("postgres", False, registry=registry)

    assert registry.get_sample_value("readiness_check_healthy", {"check": "postgres"}) == 0
    assert registry.get_sample_value("readiness_check_healthy", {"check": "redis"}) == 1


@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_non_http_scopes_pass_through_uncounted(
    registry: CollectorRegistry, scope_type: str
) -> None:
    seen: list[str] = []

    async def inner(scope: dict[str, object], receive: object, send: object) -> None:
        seen.append(str(scope["type"]))

    middleware = MetricsMiddleware(inner, registry=registry)  # type: ignore[arg-type]
    await middleware({"type": scope_type, "path": "/"}, None, None)  # type: ignore[arg-type]

    assert seen == [scope_type]
    assert routes_seen(registry) == set()
