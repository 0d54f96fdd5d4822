"""Duplicate JSON object keys are refused with a 422 problem naming the key, on every route."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from starlette.applications import Starlette

from slipway.config import ServiceSettings
from slipway.web import ServiceParts, create_app
from slipway.web.json_body import duplicate_key_path
from slipway.web.testing import app_client


class Change(BaseModel):
    kind: str
    body: dict[str, Any] = {}


router = APIRouter(prefix="/v1")


@router.post("/changes")
async def create_change(change: Change) -> dict[str, Any]:
    return change.model_dump()


def _added_later(app: Starlette) -> None:
    assert isinstance(app, FastAPI)

    @app.put("/later")
    async def later(change: Change) -> dict[str, Any]:
        return change.model_dump()


@pytest.fixture
async def client(service_settings: ServiceSettings) -> AsyncIterator[Any]:
    app = create_app(service_settings, ServiceParts(routers=[router], on_app=[_added_later]))
    async with app_client(app) as http:
        yield http


async def _post(client: Any, path: str, raw: bytes, content_type: str = "application/json") -> Any:
    return await client.post(path, content=raw, headers={"content-type": content_type})


async def test_a_repeated_top_level_key_is_refused_naming_it(client: Any) -> None:
    response = await _post(client, "/v1/changes", b'{"kind": "safe", "kind": "evil"}')
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["request_id"]
    [error] = body["errors"]
    assert error["type"] == "json_duplicate_key"
    assert error["loc"] == ["body", "kind"]
    assert error["pointer"] == "#/body/kind"
    assert "'kind'" in error["message"]


async def test_a_repeated_nested_key_is_located(client: Any) -> None:
    raw = b'{"kind": "k", "body": {"items": [{"a": 1}, {"a": 1, "a": 2}]}}'
    response = await _post(client, "/v1/changes", raw)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "body", "items", 1, "a"]


async def test_any_json_media_type_is_checked(client: Any) -> None:
    raw = b'{"kind": "a", "kind": "b"}'
    response = await _post(
        client, "/v1/changes", raw, "application/vnd.slipway+json; charset=utf-8"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_duplicate_key"


async def test_routes_added_on_the_built_app_are_checked_too(client: Any) -> None:
    raw = b'{"kind": "a", "kind": "b"}'
    response = await client.put("/later", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422


async def test_unique_keys_pass(client: Any) -> None:
    response = await _post(client, "/v1/changes", b'{"kind": "a", "body": {"kind": "b"}}')
    assert response.status_code == 200
    assert response.json() == {"kind": "a", "body": {"kind": "b"}}


async def test_invalid_json_keeps_its_own_answer(client: Any) -> None:
    response = await _post(client, "/v1/changes", b'{"kind": ')
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_a_body_not_sent_as_json_keeps_its_own_answer(client: Any) -> None:
    response = await _post(client, "/v1/changes", b'{"kind": "a", "kind": "b"}', "text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ('{"a": 1}', None),
        ('[{"a": 1, "b": {"a": 2}}]', None),
        ('{"a": 1, "a": 1}', ("a",)),
        ('[0, {"x": {"y": 1, "y": 2}}]', (1, "x", "y")),
        ("not json", None),
        ('"just a string"', None),
    ],
)
def test_duplicate_key_path(raw: str, path: tuple[str | int, ...] | None) -> None:
    assert duplicate_key_path(raw) == path
