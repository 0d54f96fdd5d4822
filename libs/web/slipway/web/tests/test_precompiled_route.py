"""`PrecompiledRoute` answers exactly as FastAPI's own route, without its per-request solver."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import (
    APIRouter,
    FastAPI,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    Security,
)
from fastapi.dependencies import utils as dependency_utils
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
from pydantic import BaseModel, BeforeValidator, Field

from slipway.web import PrecompiledRoute

bearer = HTTPBearer(scheme_name="bearer", auto_error=False)
CALLS: list[str] = []


def plain_decimal(value: object) -> object:
    if isinstance(value, str) and not value.isdigit():
        raise ValueError("must be a plain decimal")
    return value


async def caller(
    request: Request,
    security_scopes: SecurityScopes,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> str:
    CALLS.append("caller")
    if credentials is None or credentials.credentials != "good":
        raise HTTPException(401, "no token", headers={"WWW-Authenticate": "Bearer"})
    return f"{request.method}:{' '.join(security_scopes.scopes)}"


Caller = Annotated[str, Security(caller, scopes=["things:read"])]
Name = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


class Thing(BaseModel):
    label: str


def router(route_class: type[APIRoute]) -> APIRouter:
    routes = APIRouter(prefix="/v1", route_class=route_class)

    @routes.get("/things/{namespace}/{name}")
    async def read(
        namespace: Name,
        name: Name,
        who: Caller,
        again: Caller,  # the same dependency twice: solved once (FastAPI's cache)
        if_none_match: Annotated[
            str | None, Header(alias="If-None-Match", pattern=r'^(\*|"[a-z0-9]*")$')
        ] = None,
    ) -> Response:
        return Response(f"{namespace}/{name} {who} {again} {if_none_match}")

    @routes.get("/things/{namespace}")
    async def listing(
        namespace: Name,
        who: Caller,
        limit: Annotated[
            Annotated[int, Field(ge=1, le=100)], BeforeValidator(plain_decimal), Query()
        ] = 50,
        kind: Annotated[str | None, Query(max_length=5)] = None,
        x_trace: Annotated[str | None, Header()] = None,
    ) -> Response:
        return Response(f"{namespace} {who} {limit} {kind} {x_trace}")

    @routes.put("/things/{namespace}/{name}")
    async def write(namespace: Name, name: Name, thing: Thing, who: Caller) -> Response:
        return Response(f"{namespace}/{name} {thing.label} {who}")

    @routes.get("/model/{name}")
    async def model(name: Name) -> Thing:
        return Thing(label=name)

    return routes


def app_of(route_class: type[APIRoute]) -> FastAPI:
    app = FastAPI()
    app.include_router(router(route_class))
    return app


@pytest.fixture
async def clients() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app_of(APIRoute)), base_url="http://t"
        ) as fastapi_own,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app_of(PrecompiledRoute)), base_url="http://t"
        ) as precompiled,
    ):
        yield fastapi_own, precompiled


GOOD = {"Authorization": "Bearer good"}
REQUESTS: list[tuple[str, str, dict[str, str], Any]] = [
    ("GET", "/v1/things/team-a/runbook", GOOD, None),
    ("GET", "/v1/things/team-a/runbook", {**GOOD, "If-None-Match": '"abc"'}, None),
    ("GET", "/v1/things/team-a/runbook", {**GOOD, "If-None-Match": "abc"}, None),
    ("GET", "/v1/things/team-a/runbook", {**GOOD, "if-none-match": "*"}, None),
    ("GET", "/v1/things/Team_A/run.book", GOOD, None),
    ("GET", "/v1/things/Team_A/runbook", {"If-None-Match": "bad"}, None),
    ("GET", "/v1/things/team-a/runbook", {}, None),
    ("GET", "/v1/things/team-a/runbook", {"Authorization": "Bearer bad"}, None),
    ("GET", "/v1/things/team-a/runbook", {"Authorization": "Basic x"}, None),
    ("GET", "/v1/things/team-a", GOOD, None),
    ("GET", "/v1/things/team-a?limit=7&kind=doc", {**GOOD, "X-Trace": "t1"}, None),
    ("GET", "/v1/things/team-a?limit=07", GOOD, None),
    ("GET", "/v1/things/team-a?limit=0&kind=toolong", GOOD, None),
    ("GET", "/v1/things/team-a?limit=x&limit=3", GOOD, None),
    ("GET", "/v1/things/team-a?limit=", GOOD, None),
    ("GET", "/v1/things/BAD?limit=1000", {}, None),
    ("PUT", "/v1/things/team-a/runbook", GOOD, {"label": "x"}),
    ("PUT", "/v1/things/team-a/runbook", GOOD, {"nope": 1}),
    ("GET", "/v1/model/abc", {}, None),
    ("GET", "/v1/model/ABC", {}, None),
]


@pytest.mark.parametrize(("method", "url", "headers", "body"), REQUESTS)
async def test_precompiled_route_answers_as_fastapi_does(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    method: str,
    url: str,
    headers: dict[str, str],
    body: Any,
) -> None:
    fastapi_own, precompiled = clients
    CALLS.clear()
    expected = await fastapi_own.request(method, url, headers=headers, json=body)
    expected_calls = list(CALLS)
    CALLS.clear()
    answered = await precompiled.request(method, url, headers=headers, json=body)
    assert (answered.status_code, answered.content) == (expected.status_code, expected.content)
    assert answered.headers.multi_items() == expected.headers.multi_items()
    assert expected_calls == CALLS


async def test_plain_routes_skip_fastapis_dependency_solver(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    solved: list[str] = []
    original = dependency_utils.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        solved.append(kwargs["dependant"].name or "route")
        return await original(**kwargs)

    monkeypatch.setattr("fastapi.routing.solve_dependencies", counting)
    _, precompiled = clients
    for url in ("/v1/things/team-a/runbook", "/v1/things/team-a?limit=3", "/v1/things/X"):
        await precompiled.get(url, headers=GOOD)
    assert solved == []
    # A route with a body, or one answering a model, keeps FastAPI's own handler.
    await precompiled.put("/v1/things/team-a/x", headers=GOOD, json={"label": "x"})
    await precompiled.get("/v1/model/abc")
    assert solved.count("route") == 2


async def test_dependency_overrides_still_apply() -> None:
    app = app_of(PrecompiledRoute)

    async def nobody() -> str:
        return "override"

    app.dependency_overrides[caller] = nobody
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        answered = await c.get("/v1/things/team-a/runbook")
    assert answered.status_code == 200
    assert answered.text == "team-a/runbook override override None"


def test_the_openapi_document_is_fastapis() -> None:
    assert app_of(PrecompiledRoute).openapi() == app_of(APIRoute).openapi()
