"""A `body_only` dependency is left out of a precompiled (bodyless) route's plan, and only there.

slipway.web's duplicate-key check is one: a GET served by a `PrecompiledRoute` does not call it
at all, while a PUT (FastAPI's own handler: it has a body) still runs it and refuses a repeated
key.
"""

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from slipway.config import ServiceSettings
from slipway.observability import NATIVE_TELEMETRY_OFF
from slipway.web import PrecompiledRoute, ServiceParts, create_app
from slipway.web.json_body import refuse_duplicate_keys
from slipway.web.precompiled_route import body_only
from slipway.web.testing import app_client

DUPLICATED = b'{"label": "safe", "label": "evil"}'
JSON = {"content-type": "application/json"}


class Thing(BaseModel):
    label: str


def things(route_class: type[APIRoute]) -> APIRouter:
    routes = APIRouter(prefix="/v1", route_class=route_class)

    @routes.get("/things/{name}")
    async def read(name: str) -> Response:
        return Response(name)

    @routes.put("/things/{name}")
    async def write(name: str, thing: Thing) -> Response:
        return Response(f"{name} {thing.label}")

    return routes


@contextmanager
def counting_calls(function: Any) -> Iterator[list[int]]:
    """How many times `function`'s frame is entered in this thread (coroutine steps too)."""
    code = function.__code__
    entered = [0]

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        if event == "call" and frame.f_code is code:
            entered[0] += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield entered
    finally:
        sys.setprofile(previous)


@pytest.fixture
async def platform(service_settings: ServiceSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(service_settings, ServiceParts(routers=[things(PrecompiledRoute)]))
    async with app_client(app) as http:
        yield http


async def test_a_get_on_a_precompiled_route_does_not_run_the_duplicate_key_check(
    platform: httpx.AsyncClient,
) -> None:
    with counting_calls(refuse_duplicate_keys) as entered:
        answered = await platform.request("GET", "/v1/things/a", content=DUPLICATED, headers=JSON)
    assert answered.status_code == 200, answered.text
    assert entered == [0]


async def test_a_put_still_refuses_a_duplicate_key(platform: httpx.AsyncClient) -> None:
    with counting_calls(refuse_duplicate_keys) as entered:
        refused = await platform.put("/v1/things/a", content=DUPLICATED, headers=JSON)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["type"], error["loc"]) == ("json_duplicate_key", ["body", "label"])
    assert entered[0] >= 1
    accepted = await platform.put("/v1/things/a", json={"label": "safe"})
    assert (accepted.status_code, accepted.text) == (200, "a safe")


RAN: list[str] = []


@body_only
async def recorded() -> None:
    RAN.append("recorded")


def recorded_app(route_class: type[APIRoute]) -> FastAPI:
    # Native telemetry off, as create_app has it: a recorded request takes FastAPI's handler.
    app = FastAPI(dependencies=[Depends(recorded)], telemetry=NATIVE_TELEMETRY_OFF)  # type: ignore[arg-type]
    app.include_router(things(route_class))
    return app


@pytest.mark.parametrize(
    ("route_class", "on_get"),
    [(PrecompiledRoute, []), (APIRoute, ["recorded"])],
    ids=["precompiled", "fastapi"],
)
async def test_only_a_precompiled_plan_leaves_a_body_only_dependency_out(
    route_class: type[APIRoute], on_get: list[str]
) -> None:
    transport = httpx.ASGITransport(recorded_app(route_class))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        RAN.clear()
        assert (await client.get("/v1/things/a")).status_code == 200
        assert on_get == RAN
        RAN.clear()
        assert (await client.put("/v1/things/a", json={"label": "x"})).status_code == 200
        assert RAN == ["recorded"]  # a route with a body: FastAPI's own handler calls it


async def test_a_named_body_only_dependency_is_still_solved() -> None:
    """Left out only from `dependencies=[...]`: a parameter that receives it keeps it."""
    routes = APIRouter(route_class=PrecompiledRoute)

    @routes.get("/named")
    async def named(value: Annotated[None, Depends(recorded)]) -> Response:
        return Response(repr(value))

    app = FastAPI(telemetry=NATIVE_TELEMETRY_OFF)  # type: ignore[arg-type]
    app.include_router(routes)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        RAN.clear()
        answered = await client.get("/named")
    assert (answered.status_code, answered.text) == (200, "None")
    assert RAN == ["recorded"]
