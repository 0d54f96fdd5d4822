"""The URL and header limits are counted once per request when the server enforced them.

`build_server`'s protocol refuses an over-long target (414) or header block (431) while
parsing and marks each request's scope with the limits it enforced (`LIMITS_ENFORCED`);
`RequestLimitsMiddleware` then skips its own count, which could only agree.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter, Request

from slipway.config import ServiceSettings
from slipway.web import ServiceParts, WebSettings, build_server, create_app
from slipway.web.limits import LIMITS_ENFORCED, RequestLimitsMiddleware
from slipway.web.server import ProblemHttpToolsProtocol
from slipway.web.testing.server import serving


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not called")


LIMITS = RequestLimitsMiddleware(_app, max_url_bytes=100, max_header_bytes=200)
LONG_TARGET: dict[str, Any] = {"raw_path": b"/" + b"x" * 150, "query_string": b"", "headers": []}
LARGE_HEADERS: dict[str, Any] = {
    "raw_path": b"/",
    "query_string": b"",
    "headers": [(b"x-filler", b"y" * 300)],
}


@pytest.mark.parametrize("scope", [LONG_TARGET, LARGE_HEADERS], ids=["target", "headers"])
def test_the_middleware_counts_unless_the_server_enforced_limits_as_strict(
    scope: dict[str, Any],
) -> None:
    assert LIMITS.refusal(scope) is not None
    # Enforced by the server at these limits or stricter ones: nothing left to refuse here.
    assert LIMITS.refusal({**scope, LIMITS_ENFORCED: (100, 200)}) is None
    assert LIMITS.refusal({**scope, LIMITS_ENFORCED: (50, 100)}) is None
    # Looser limits at the server (or only one of them as strict): counted again.
    assert LIMITS.refusal({**scope, LIMITS_ENFORCED: (101, 200)}) is not None
    assert LIMITS.refusal({**scope, LIMITS_ENFORCED: (100, 201)}) is not None


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/enforced")
    async def enforced(request: Request) -> dict[str, Any]:
        return {"enforced": request.scope.get(LIMITS_ENFORCED)}

    return router


async def _get(port: int, target: bytes, headers: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = await asyncio.wait_for(reader.readexactly(length), 5)
        return int(head.split()[1]), body
    finally:
        writer.close()


@pytest.fixture(params=["", "/prefix"], ids=["no-root-path", "root-path"])
async def served(
    request: pytest.FixtureRequest, service_settings: ServiceSettings
) -> AsyncIterator[tuple[int, str]]:
    web = WebSettings(max_url_bytes=300, max_header_bytes=2000, drain_delay_seconds=0)
    app = create_app(service_settings, ServiceParts(routers=[_router()]), web=web)
    root_path: str = request.param
    server = build_server(app, web, log_level="critical", root_path=root_path)
    async with serving(app, server=server) as running:
        yield running.port, root_path


async def test_the_server_marks_the_limits_it_enforced(served: tuple[int, str]) -> None:
    port, root_path = served
    status, body = await _get(port, b"/enforced")

    assert status == 200
    # With a root path the app's target is longer than the wire's: the app counts again.
    assert body == (b'{"enforced":null}' if root_path else b'{"enforced":[300,2000]}')


async def test_what_the_server_lets_through_is_within_the_apps_limits(
    served: tuple[int, str],
) -> None:
    port, root_path = served
    # At the limits exactly (the app's target includes the root path), and header values
    # with trailing whitespace (the server counts it, uvicorn strips it from the scope).
    target = b"/enforced?q=" + b"x" * (300 - len(b"/enforced?q=") - len(root_path))
    filler = b"X-Filler: " + b"y" * 1900 + b"   \r\n"
    assert (await _get(port, target, filler))[0] == 200
    assert (await _get(port, target + b"x"))[0] == 414


def test_the_mark_is_the_limits_the_protocol_counts_with() -> None:
    # A subclass that changes one limit marks that limit, not the class's default.
    class Looser(ProblemHttpToolsProtocol):
        max_url_bytes = 20_000

    protocol = Looser.__new__(Looser)
    protocol.root_path = ""
    protocol.scope = {}  # type: ignore[typeddict-item]
    protocol._mark_limits()
    assert protocol.scope[LIMITS_ENFORCED] == (20_000, 32_768)  # type: ignore[literal-required]
