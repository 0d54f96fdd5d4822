"""`auth=`: an httpx.Auth on the client or per request, run on every try."""

from collections.abc import AsyncGenerator

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from slipway.http import HttpClientSettings, ResilientClient


class NumberedAuth(httpx.Auth):
    """Sends `Authorization: Test <n>`, n counting the flows (one per try)."""

    def __init__(self, name: str = "Test") -> None:
        self.name = name
        self.flows = 0

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        self.flows += 1
        request.headers["Authorization"] = f"{self.name} {self.flows}"
        yield request


def _upstream(seen: list[str | None], failures: int) -> Starlette:
    async def flaky(request: Request) -> Response:
        seen.append(request.headers.get("authorization"))
        status = 503 if len(seen) <= failures else 200
        return PlainTextResponse("x", status_code=status)

    return Starlette(routes=[Route("/", flaky)])


def _client(app: Starlette, auth: httpx.Auth | None = None) -> ResilientClient:
    settings = HttpClientSettings.model_validate(
        {
            "base_url": "http://upstream.test",
            "retry": {"attempts": 3, "backoff_base": 0.0, "backoff_max": 0.0, "jitter": 0.0},
        }
    )
    return ResilientClient(
        settings,
        registry=CollectorRegistry(),
        transport=httpx.ASGITransport(app=app),
        auth=auth,
    )


async def test_the_clients_auth_runs_on_every_try() -> None:
    seen: list[str | None] = []
    auth = NumberedAuth()
    async with _client(_upstream(seen, failures=1), auth) as client:
        assert (await client.get("/")).status_code == 200
    assert seen == ["Test 1", "Test 2"]  # the retry asked the auth again
    assert auth.flows == 2


async def test_a_requests_auth_replaces_the_clients() -> None:
    seen: list[str | None] = []
    async with _client(_upstream(seen, failures=0), NumberedAuth()) as client:
        await client.get("/", auth=NumberedAuth("Other"))
        await client.get("/")
    assert seen == ["Other 1", "Test 1"]


async def test_no_auth_sends_no_authorization() -> None:
    seen: list[str | None] = []
    async with _client(_upstream(seen, failures=0)) as client:
        await client.get("/")
    assert seen == [None]
