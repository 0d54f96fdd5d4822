"""`create_app` adds /health and /ready to the app's own router, not as an included router.

They are then tried as two plain routes on every other request. They must document and answer
exactly as the included `probes_router` did: same OpenAPI document (paths in the same place),
same bodies and headers.
"""

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

import slipway.web.app
from slipway.config import ServiceSettings
from slipway.web import ServiceParts, create_app
from slipway.web.lifecycle import Lifecycle, ReadinessCheck
from slipway.web.probes import probes_router
from slipway.web.testing import app_client

items = APIRouter(prefix="/v1")
TIMED = ("traceresponse", "ratelimit-reset")  # a new trace id; seconds left, which may tick


@items.get("/items/{item_id}")
async def read(item_id: int) -> dict[str, int]:
    return {"id": item_id}


def _included(
    router: APIRouter,
    lifecycle: Lifecycle,
    checks: list[ReadinessCheck],
    timeout_seconds: float,
    noncritical: list[ReadinessCheck] | tuple[()] = (),
) -> None:
    """The probes as create_app added them before: an included `probes_router`."""
    router.include_router(
        probes_router(lifecycle, checks, timeout_seconds, noncritical=noncritical)
    )


def _app(settings: ServiceSettings) -> FastAPI:
    return create_app(settings, ServiceParts(routers=[items]))


async def _answers(app: FastAPI) -> list[tuple[int, bytes, list[tuple[str, str]]]]:
    answered: list[tuple[int, bytes, list[tuple[str, str]]]] = []
    async with app_client(app) as client:
        for path in ("/health", "/ready", "/v1/items/3"):
            response = await client.get(path, headers={"x-request-id": "fixed"})
            headers = [(k, v) for k, v in response.headers.multi_items() if k not in TIMED]
            answered.append((response.status_code, response.content, headers))
    return answered


async def test_probes_on_the_app_router_answer_and_document_as_the_included_router(
    service_settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = _app(service_settings)
    on_the_app = [r.path for r in direct.router.routes if isinstance(r, APIRoute)]
    assert on_the_app == ["/health", "/ready"]
    direct_document = direct.openapi()
    direct_answers = await _answers(direct)
    monkeypatch.setattr(slipway.web.app, "add_probe_routes", _included)
    included = _app(service_settings)
    included_document: dict[str, Any] = included.openapi()
    assert list(direct_document["paths"]) == list(included_document["paths"])
    assert direct_document == included_document
    assert direct_answers == await _answers(included)
