"""Every error is an application/problem+json document with the request id."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, field_validator

from slipway.config import ServiceSettings
from slipway.web import ProblemError, RateLimitSettings, ServiceParts, WebSettings, create_app
from slipway.web.testing import app_client

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}


class Order(BaseModel):
    sku: str = Field(min_length=3)
    quantity: int = Field(gt=0)


router = APIRouter()


@router.post("/orders")
async def create_order(order: Order) -> dict[str, Any]:
    return {"sku": order.sku, "quantity": order.quantity}


@router.post("/echo-size")
async def echo_size(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@router.get("/teapot")
async def teapot() -> None:
    raise ProblemError(418, "no coffee here", type="urn:test:teapot", extensions={"brew": "tea"})


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_MEMBERS
    assert body["status"] == status
    assert body["request_id"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.fixture
async def client(service_settings: ServiceSettings) -> AsyncIterator[Any]:
    web = WebSettings(
        max_body_bytes=100, rate_limit=RateLimitSettings(requests=5, window_seconds=60)
    )
    app = create_app(service_settings, ServiceParts(routers=[router]), web=web)
    async with app_client(app) as http:
        yield http


async def test_404_is_a_problem(client: Any) -> None:
    body = assert_problem(await client.get("/nowhere"), 404)
    assert body["instance"] == "/nowhere"
    assert body["type"] == "about:blank"
    assert body["title"] == "Not Found"


async def test_405_is_a_problem_with_allow_header(client: Any) -> None:
    response = await client.delete("/orders")
    assert_problem(response, 405)
    assert "POST" in response.headers["allow"]


async def test_413_when_content_length_is_over_the_limit(client: Any) -> None:
    body = assert_problem(await client.post("/echo-size", content=b"x" * 101), 413)
    assert "100 bytes" in body["detail"]


async def test_413_on_a_streamed_body_without_content_length(client: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 40

    response = await client.post("/echo-size", content=chunks())
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)


async def test_413_on_a_streamed_json_body(client: Any) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"sku": "' + b"a" * 80
        yield b"a" * 80 + b'", "quantity": 1}'

    response = await client.post(
        "/orders", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413)


async def test_body_under_the_limit_passes(client: Any) -> None:
    response = await client.post("/echo-size", content=b"x" * 100)
    assert response.status_code == 200
    assert response.json() == {"size": 100}


async def test_415_when_a_json_route_gets_another_content_type(client: Any) -> None:
    response = await client.post(
        "/orders", content=b"sku=abc", headers={"content-type": "text/plain"}
    )
    body = assert_problem(response, 415)
    assert "text/plain" in body["detail"]


async def test_422_lists_each_invalid_field(client: Any) -> None:
    body = assert_problem(await client.post("/orders", json={"sku": "a", "quantity": 0}), 422)
    errors = {error["pointer"]: error for error in body["errors"]}
    assert set(errors) == {"#/body/sku", "#/body/quantity"}
    assert errors["#/body/sku"]["loc"] == ["body", "sku"]
    assert errors["#/body/quantity"]["type"] == "greater_than"
    assert errors["#/body/quantity"]["message"]


async def test_500_carries_request_id_but_no_traceback(client: Any) -> None:
    response = await client.get("/boom", headers={"x-request-id": "req-500-check"})
    body = assert_problem(response, 500)
    assert body["request_id"] == "req-500-check"
    text = response.text
    assert "Traceback" not in text
    assert "hunter2" not in text
    assert "RuntimeError" not in text


async def test_problem_error_from_a_route(client: Any) -> None:
    body = assert_problem(await client.get("/teapot"), 418)
    assert body["type"] == "urn:test:teapot"
    assert body["detail"] == "no coffee here"
    assert body["brew"] == "tea"


async def test_429_with_retry_after_and_ratelimit_headers(client: Any) -> None:
    for _ in range(5):
        assert (await client.get("/nowhere")).status_code == 404
    response = await client.get("/nowhere")
    body = assert_problem(response, 429)
    assert body["type"] == "urn:slipway:problem:rate-limited"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit-limit"] == "5"
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-reset"]) > 0


async def test_json_success_uses_orjson_response(client: Any) -> None:
    response = await client.post("/orders", json={"sku": "abc", "quantity": 2})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"sku": "abc", "quantity": 2}


async def test_422_messages_drop_pydantics_value_error_prefix(
    service_settings: ServiceSettings,
) -> None:
    class Signup(BaseModel):
        handle: str

        @field_validator("handle")
        @classmethod
        def _lowercase(cls, value: str) -> str:
            if value != value.lower():
                raise ValueError("handle must be lowercase")
            return value

    signup = APIRouter()

    @signup.post("/signups")
    async def create(body: Signup) -> dict[str, str]:
        return {"handle": body.handle}

    app = create_app(service_settings, ServiceParts(routers=[signup]))
    async with app_client(app) as http:
        body = assert_problem(await http.post("/signups", json={"handle": "Ada"}), 422)
    [error] = body["errors"]
    assert error["message"] == "handle must be lowercase"
    assert error["type"] == "value_error"
