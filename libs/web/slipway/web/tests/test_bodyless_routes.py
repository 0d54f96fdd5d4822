"""`create_app` takes the duplicate-key check out of every bodyless route, whatever its class.

A GET on a plain `APIRoute` (FastAPI's own handler) does not call the check at all, where it
used to solve it as a sub-dependency on every request; a route with a JSON body still runs it
first and refuses a repeated key, and the OpenAPI document is the same as without the pruning.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.applications import Starlette

import slipway.web.app
from slipway.config import ServiceSettings
from slipway.web import ServiceParts, create_app
from slipway.web.json_body import refuse_duplicate_keys
from slipway.web.precompiled_route import leave_out_body_only
from slipway.web.testing import app_client
from slipway.web.tests.test_body_only import DUPLICATED, JSON, Thing, counting_calls, things


def _read_and_write(target: FastAPI | APIRouter, path: str) -> None:
    """A bodyless GET and a PUT with a body at `path` of `target`."""

    @target.get(path)
    async def read(name: str) -> dict[str, str]:
        return {"name": name}

    @target.put(path)
    async def write(name: str, thing: Thing) -> dict[str, str]:
        return {"name": name, "label": thing.label}


def _on_the_app(app: Starlette) -> None:
    assert isinstance(app, FastAPI)
    _read_and_write(app, "/on-app/{name}")


@pytest.fixture
async def platform(service_settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        service_settings, ServiceParts(routers=[things(APIRoute)], on_app=[_on_the_app])
    )
    async with app_client(app) as http:
        yield http


@pytest.mark.parametrize("path", ["/v1/things/a", "/on-app/a"], ids=["included", "on-app"])
async def test_a_get_on_a_fastapi_route_does_not_run_the_duplicate_key_check(
    platform: httpx.AsyncClient, path: str
) -> None:
    with counting_calls(refuse_duplicate_keys) as entered:
        answered = await platform.request("GET", path, content=DUPLICATED, headers=JSON)
    assert answered.status_code == 200, answered.text
    assert entered == [0]


@pytest.mark.parametrize("path", ["/v1/things/a", "/on-app/a"], ids=["included", "on-app"])
async def test_a_put_on_a_fastapi_route_still_refuses_a_duplicate_key(
    platform: httpx.AsyncClient, path: str
) -> None:
    with counting_calls(refuse_duplicate_keys) as entered:
        refused = await platform.put(path, content=DUPLICATED, headers=JSON)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["type"], error["loc"]) == ("json_duplicate_key", ["body", "label"])
    assert entered[0] >= 1
    assert (await platform.put(path, json={"label": "safe"})).status_code == 200


async def test_routes_added_after_create_app_are_pruned_at_startup(
    service_settings: ServiceSettings,
) -> None:
    late = APIRouter(prefix="/late")
    app = create_app(service_settings, ServiceParts(routers=[late]))
    _read_and_write(late, "/{name}")

    async with app_client(app) as http:
        with counting_calls(refuse_duplicate_keys) as entered:
            assert (await http.get("/late/a")).status_code == 200
        assert entered == [0]
        refused = await http.put("/late/a", content=DUPLICATED, headers=JSON)
        assert refused.status_code == 422, refused.text


def test_leave_out_body_only_keeps_other_dependencies() -> None:
    async def other() -> None:
        return None

    app = FastAPI(dependencies=[Depends(refuse_duplicate_keys), Depends(other)])
    app.include_router(things(APIRoute))
    leave_out_body_only(app.router.routes)
    solved: dict[str, list[Any]] = {}
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # /openapi.json, /docs: plain Starlette routes
        calls = [sub.call for sub in context.dependant.dependencies if sub.name is None]
        solved[f"{min(route.methods or ())} {route.path}"] = calls
    assert solved == {
        "GET /v1/things/{name}": [other],
        "PUT /v1/things/{name}": [refuse_duplicate_keys, other],
    }


def test_the_openapi_document_is_the_same_as_without_the_pruning(
    service_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def build() -> dict[str, Any]:
        parts = ServiceParts(routers=[things(APIRoute)], on_app=[_on_the_app])
        return create_app(service_settings, parts).openapi()

    pruned = build()
    monkeypatch.setattr(slipway.web.app, "leave_out_body_only", lambda _routes: None)
    assert build() == pruned
