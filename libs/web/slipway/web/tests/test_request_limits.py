"""Over-long targets (414) and header blocks (431) are problems, from the app and from uvicorn.

uvicorn's httptools parser answers a URL over 64 KiB with a plain-text 400 and buffers any
header block; `build_server`'s protocol refuses both while parsing, with problem documents.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from slipway.config import ServiceSettings
from slipway.web import ServiceParts, WebSettings, build_server, create_app
from slipway.web.testing import app_client
from slipway.web.testing.server import serving


def _app(settings: ServiceSettings, web: WebSettings) -> Any:
    return create_app(settings, ServiceParts(), web=web)


@pytest.fixture
async def client(service_settings: ServiceSettings) -> AsyncIterator[Any]:
    web = WebSettings(max_url_bytes=100, max_header_bytes=2000)
    async with app_client(_app(service_settings, web)) as http:
        yield http


def _assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> Any:
    assert status == expected
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == expected
    return problem


async def test_the_app_refuses_a_long_target(client: Any) -> None:
    response = await client.get("/health", params={"q": "x" * 100})
    problem = _assert_problem(response.status_code, dict(response.headers), response.content, 414)
    assert problem["detail"] == "request target exceeds 100 bytes"
    assert problem["request_id"] == response.headers["x-request-id"]
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_app_refuses_large_headers(client: Any) -> None:
    response = await client.get("/health", headers={"x-filler": "y" * 2000})
    problem = _assert_problem(response.status_code, dict(response.headers), response.content, 431)
    assert problem["detail"] == "request headers exceed 2000 bytes"


async def test_within_the_limits_passes(client: Any) -> None:
    response = await client.get("/health", params={"q": "x" * 50}, headers={"x-f": "y" * 500})
    assert response.status_code == 200


async def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 5)
        return status, headers, body
    finally:
        writer.close()


@pytest.fixture
async def server_port(service_settings: ServiceSettings) -> AsyncIterator[int]:
    web = WebSettings(max_url_bytes=8192, max_header_bytes=16384, drain_delay_seconds=0)
    app = _app(service_settings, web)
    async with serving(app, server=build_server(app, web, log_level="critical")) as running:
        yield running.port


async def test_uvicorn_answers_a_200_kb_target_with_a_414_problem(server_port: int) -> None:
    raw = b"GET /health?q=" + b"x" * 200_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n"
    status, headers, body = await _exchange(server_port, raw)
    problem = _assert_problem(status, headers, body, 414)
    assert problem["detail"] == "request target exceeds 8192 bytes"
    assert headers["connection"] == "close"


async def test_uvicorn_answers_huge_headers_with_a_431_problem(server_port: int) -> None:
    raw = b"GET /health HTTP/1.1\r\nHost: t\r\nX-Filler: " + b"y" * 100_000 + b"\r\n\r\n"
    status, headers, body = await _exchange(server_port, raw)
    _assert_problem(status, headers, body, 431)


async def test_uvicorn_answers_garbage_with_a_400_problem(server_port: int) -> None:
    status, headers, body = await _exchange(server_port, b"NOT HTTP AT ALL\r\n\r\n")
    _assert_problem(status, headers, body, 400)


async def test_uvicorn_serves_what_is_within_the_limits(server_port: int) -> None:
    raw = b"GET /health?q=" + b"x" * 4000 + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    status, headers, _ = await _exchange(server_port, raw)
    assert status == 200
    assert headers["content-type"] == "application/json"


async def test_the_server_does_not_name_itself(server_port: int) -> None:
    raw = b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    status, headers, _ = await _exchange(server_port, raw)
    assert status == 200
    assert "server" not in headers
    assert "date" in headers
