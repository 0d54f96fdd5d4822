"""IdempotencyMiddleware as a service lists it in `ServiceParts`: problems carry the request id."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, Response
from starlette.middleware import Middleware

from slipway.config import Environment, ServiceSettings
from slipway.web import (
    IdempotencyMiddleware,
    IdempotencySettings,
    InMemoryIdempotencyStore,
    RateLimitSettings,
    ServiceParts,
    WebSettings,
    create_app,
    lifecycle_of,
)
from slipway.web.idempotency import IN_PROGRESS_TYPE, KEY_REUSED_TYPE, principal_or_anonymous

runs: list[str] = []
router = APIRouter()


@router.post("/v1/jobs", status_code=202)
async def start_job(delay: float = 0.0) -> Response:
    """Count the run, hold the reservation for `delay`, answer 202."""
    runs.append("job")
    await asyncio.sleep(delay)
    return Response(b'{"z":1,"a":"\xc3\xa9"}', 202, media_type="application/json")


@router.post("/v1/crash")
async def crash() -> None:
    """Fail with an internal detail the client must never see."""
    runs.append("crash")
    raise RuntimeError("secret internal detail")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    runs.clear()
    settings = ServiceSettings(service_name="idempotency-app", environment=Environment.TEST)
    web = WebSettings(rate_limit=RateLimitSettings(enabled=False))
    idempotency = IdempotencySettings(wait_seconds=0.1, retry_after_seconds=2)
    middleware = Middleware(
        IdempotencyMiddleware,
        store=InMemoryIdempotencyStore(),
        settings=idempotency,
        subject=principal_or_anonymous,
    )
    app = create_app(settings, ServiceParts(routers=[router], middleware=[middleware]), web=web)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        lifecycle_of(app).running(),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


async def _twice(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, httpx.Response]:
    """The same request twice, one after the other, under one new key."""
    headers = {"idempotency-key": f"key-{len(runs)}-{path.strip('/').replace('/', '-')}"}
    return await client.post(path, headers=headers), await client.post(path, headers=headers)


async def test_replay_through_the_platform_stack_keeps_the_body_bytes(
    client: httpx.AsyncClient,
) -> None:
    first, second = await _twice(client, "/v1/jobs")
    assert runs == ["job"]
    assert (second.status_code, second.content) == (202, first.content)
    assert second.headers["x-request-id"] != first.headers["x-request-id"]


async def test_problems_of_the_middleware_are_platform_problems(
    client: httpx.AsyncClient,
) -> None:
    headers = {"idempotency-key": "job-2"}
    first = asyncio.create_task(client.post("/v1/jobs?delay=0.5", headers=headers))
    await asyncio.sleep(0.05)
    busy = await client.post("/v1/jobs?delay=0.5", headers=headers)
    reused = await client.post("/v1/jobs?delay=0.4", headers=headers)
    await first
    for response, status, kind in ((busy, 409, IN_PROGRESS_TYPE), (reused, 422, KEY_REUSED_TYPE)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == kind
        assert problem["request_id"] == response.headers["x-request-id"]
    assert busy.headers["retry-after"] == "2"


async def test_crashing_handler_gives_a_bare_500_problem_and_frees_the_key(
    client: httpx.AsyncClient,
) -> None:
    first, second = await _twice(client, "/v1/crash")
    assert runs == ["crash", "crash"]
    for response in (first, second):
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert "secret" not in response.text
        assert "idempotent-replayed" not in response.headers
