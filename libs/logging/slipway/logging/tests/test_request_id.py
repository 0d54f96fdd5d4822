import asyncio
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from slipway.logging import RequestIdMiddleware, current_request_id, get_logger
from slipway.logging.request_id import Message, Scope
from slipway.logging.tests.conftest import LogLines

GENERATED = re.compile(r"[0-9a-f]{32}")


def build_app() -> FastAPI:
    app = FastAPI()
    log = get_logger("orders.api")

    @app.get("/orders/{number}")
    async def read_order(number: int) -> dict[str, Any]:
        log.info("order requested", number=number)
        await asyncio.sleep(0.001 * (number % 5))
        log.info("order found", number=number)
        return {"number": number, "request_id": current_request_id()}

    app.add_middleware(RequestIdMiddleware)
    return app


@pytest.fixture
def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=build_app())
    return httpx.AsyncClient(transport=transport, base_url="http://orders.test")


async def test_valid_incoming_id_is_used_logged_and_returned(
    client: httpx.AsyncClient, json_lines: LogLines
) -> None:
    response = await client.get("/orders/7", headers={"X-Request-ID": "edge-1.2_3-abc"})

    assert response.headers["x-request-id"] == "edge-1.2_3-abc"
    assert response.json()["request_id"] == "edge-1.2_3-abc"
    lines = [line for line in json_lines() if line["logger"] == "orders.api"]
    assert [line["request_id"] for line in lines] == ["edge-1.2_3-abc"] * 2


async def test_missing_id_is_generated(client: httpx.AsyncClient, json_lines: LogLines) -> None:
    response = await client.get("/orders/1")

    request_id = response.headers["x-request-id"]
    assert GENERATED.fullmatch(request_id)
    lines = [line for line in json_lines() if line["logger"] == "orders.api"]
    assert [line["request_id"] for line in lines] == [request_id] * 2


@pytest.mark.parametrize(
    "incoming",
    [
        b"x" * 129,
        b"has space",
        b"semi;colon",
        b'quote"d',
        b"slash/ed",
        "\u00fcn\u00efcode".encode(),
    ],
)
async def test_invalid_id_is_replaced(client: httpx.AsyncClient, incoming: bytes) -> None:
    response = await client.get("/orders/2", headers={b"X-Request-ID": incoming})

    assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_longest_valid_id_is_kept(client: httpx.AsyncClient) -> None:
    incoming = "a" * 128

    response = await client.get("/orders/2", headers={"X-Request-ID": incoming})

    assert response.headers["x-request-id"] == incoming


async def test_concurrent_requests_never_see_each_others_id(
    client: httpx.AsyncClient, json_lines: LogLines
) -> None:
    responses = await asyncio.gather(
        *(client.get(f"/orders/{n}", headers={"X-Request-ID": f"req-{n}"}) for n in range(25))
    )

    assert [r.json()["request_id"] for r in responses] == [f"req-{n}" for n in range(25)]
    lines = [line for line in json_lines() if line["logger"] == "orders.api"]
    assert len(lines) == 50
    for line in lines:
        assert line["request_id"] == f"req-{line['number']}"
    assert current_request_id() is None


async def call_raw(
    headers: list[tuple[bytes, bytes]], app_headers: list[tuple[bytes, bytes]]
) -> list[Message]:
    """Drive the middleware with a raw ASGI scope, as a server would."""
    sent: list[Message] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": app_headers})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    await RequestIdMiddleware(app)(scope, receive, send)
    return sent


async def test_header_injection_is_replaced_and_app_header_is_not_duplicated() -> None:
    sent = await call_raw(
        headers=[(b"x-request-id", b"abc\r\nSet-Cookie: evil=1"), (b"x-request-id", b"second")],
        app_headers=[(b"x-request-id", b"from-app"), (b"content-type", b"text/plain")],
    )

    headers = sent[0]["headers"]
    ids = [value for name, value in headers if name == b"x-request-id"]
    assert len(ids) == 1
    assert GENERATED.fullmatch(ids[0].decode())
    assert (b"content-type", b"text/plain") in headers


async def test_custom_header_name() -> None:
    seen: list[str | None] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(current_request_id())
        await send({"type": "http.response.start", "status": 200, "headers": []})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware = RequestIdMiddleware(app, header="X-Correlation-ID")
    scope = {"type": "http", "headers": [(b"x-correlation-id", b"corr-9")]}
    await middleware(scope, None, send)  # type: ignore[arg-type]

    assert seen == ["corr-9"]
    assert sent[0]["headers"] == [(b"x-correlation-id", b"corr-9")]


async def test_lifespan_scope_passes_through_untouched() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        calls.append(scope["type"])
        assert current_request_id() is None

    await RequestIdMiddleware(app)({"type": "lifespan"}, None, None)  # type: ignore[arg-type]

    assert calls == ["lifespan"]
