"""ACCEPTS_IDEMPOTENCY_KEY: the route's OpenAPI shows the header; the middleware keeps the work."""

import re

import httpx
from fastapi import FastAPI

from slipway.web import ACCEPTS_IDEMPOTENCY_KEY, IDEMPOTENCY_KEY_PATTERN


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/things", dependencies=[ACCEPTS_IDEMPOTENCY_KEY], status_code=201)
    async def create() -> dict[str, str]:
        return {"created": "yes"}

    return app


def test_declared_route_documents_the_idempotency_key_header_with_its_syntax() -> None:
    parameters = _app().openapi()["paths"]["/things"]["post"]["parameters"]

    assert parameters == [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "schema": {
                "anyOf": [
                    {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY_PATTERN.pattern}$"},
                    {"type": "null"},
                ],
                "description": (
                    "replay the first response to this key instead of repeating the request"
                ),
                "title": "Idempotency-Key",
            },
            "description": "replay the first response to this key instead of repeating the request",
        }
    ]


def test_declared_pattern_accepts_exactly_the_keys_the_middleware_accepts() -> None:
    pattern = re.compile(f"^{IDEMPOTENCY_KEY_PATTERN.pattern}$")

    assert pattern.match("order-42:retry.1")
    assert not pattern.match("")
    assert not pattern.match("a" * 256)
    assert not pattern.match("has space")


async def test_declared_route_runs_with_and_without_the_header() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        plain = await client.post("/things")
        keyed = await client.post("/things", headers={"Idempotency-Key": "k-1"})

    assert (plain.status_code, keyed.status_code) == (201, 201)
