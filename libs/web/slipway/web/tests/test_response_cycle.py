"""`PlatformCycle` writes what uvicorn's own cycle writes, and closes while draining."""

import asyncio
import logging
import random
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import (
    HEADER_VALUE_RE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from slipway.config import ServiceSettings
from slipway.web import WebSettings, build_server, create_app, response_cycle
from slipway.web.draining import CloseWhenDraining
from slipway.web.lifecycle import Lifecycle
from slipway.web.response_cycle import PlatformCycle, with_cycle_class
from slipway.web.server import limited_protocol
from slipway.web.testing.server import serving


class _Transport:
    """What a cycle writes to, recorded."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _cycle(cls: type[RequestResponseCycle], method: str, keep_alive: bool) -> Any:
    transport = _Transport()
    return cls(
        scope={"type": "http", "method": method, "headers": []},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[(b"date", b"Thu, 03 Dec 2026 16:00:00 GMT")],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: None,
    )


_NAMES = [
    b"content-type",
    b"Content-Type",
    b"content-length",
    b"Content-Length",
    b"transfer-encoding",
    b"connection",
    b"Connection",
    b"x-request-id",
    b"strict-transport-security",
    b"bad name",
    b"bad:name",
    b"bad\x00",
    b"(bad)",
    b'"quoted"',
    b"",
]
_VALUES = [
    b"application/json",
    b"max-age=31536000; includeSubDomains",
    b"default-src 'none'; frame-ancestors 'none'",
    b"chunked",
    b"Chunked",
    b"gzip, chunked",
    b"close",
    b"keep-alive, Close",
    b"keep-alive",
    b"tab\tinside",
    b"bell\x07",
    b"newline\ninjected",
    b"del\x7f",
    b"\xe9t\xe9",
    b"",
]


def _random_head(rng: random.Random) -> tuple[list[Any], str, int, bool]:
    headers: list[Any] = []
    for _ in range(rng.randrange(0, 8)):
        name = rng.choice(_NAMES)
        if name.lower() == b"content-length":
            value = str(rng.choice([0, 5, 12])).encode()
        else:
            value = rng.choice(_VALUES)
        shape = rng.random()
        if shape < 0.1:
            headers.append([name, value])  # ASGI allows any iterable pair
        elif shape < 0.15:
            headers.append((name, bytearray(value)))  # unhashable
        elif shape < 0.2:
            headers.append((name.decode("latin-1"), value.decode("latin-1")))  # not bytes
        else:
            headers.append((name, value))
    method = rng.choice(["GET", "GET", "HEAD"])
    status = rng.choice([200, 200, 201, 204, 304, 404])
    return headers, method, status, rng.random() < 0.8


async def _outcome(cycle: Any, headers: list[Any], status: int, body: bytes) -> tuple[Any, ...]:
    error: tuple[str, str] | None = None
    try:
        await cycle.send({"type": "http.response.start", "status": status, "headers": headers})
        await cycle.send({"type": "http.response.body", "body": body})
    except Exception as exc:  # the same failures, with the same messages
        error = (type(exc).__name__, str(exc))
    state = (
        cycle.keep_alive,
        cycle.chunked_encoding,
        cycle.expected_content_length,
        cycle.response_started,
        cycle.response_complete,
    )
    return error, b"".join(cycle.transport.written), cycle.transport.closed, state


async def test_the_head_is_uvicorns_for_random_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    # A small memory, so starting over is part of what is compared.
    monkeypatch.setattr(response_cycle, "CHECKED_HEADERS_LIMIT", 16)
    monkeypatch.setattr(response_cycle, "_checked", {})
    monkeypatch.setattr(response_cycle, "_checked_names", {})
    rng = random.Random(13)  # noqa: S311 - reproducible test inputs, not secrets
    failures = 0
    for _ in range(4000):
        headers, method, status, keep_alive = _random_head(rng)
        body = rng.choice([b"", b"hello", b"hello world!"])
        theirs = await _outcome(
            _cycle(RequestResponseCycle, method, keep_alive), headers, status, body
        )
        ours = await _outcome(
            _cycle(PlatformCycle, method, keep_alive), list(headers), status, body
        )
        assert ours == theirs, (headers, method, status, keep_alive)
        failures += theirs[0] is not None
    assert 400 < failures < 3600  # both the accepted and the refused heads were compared
    assert len(response_cycle._checked) <= 16
    assert len(response_cycle._checked_names) <= 16


@pytest.mark.parametrize("byte", range(256))
def test_a_new_value_is_refused_exactly_as_uvicorns_expression_refuses_it(byte: int) -> None:
    for value in (bytes([byte]), b"a" + bytes([byte]) + b"z", b"x" * 40 + bytes([byte])):
        if HEADER_VALUE_RE.search(value):
            with pytest.raises(RuntimeError, match=r"^Invalid HTTP header value\.$"):
                response_cycle._checked_name(b"x-new", value)
        else:
            assert response_cycle._checked_name(b"x-new", value) == b"x-new"


async def test_a_remembered_header_is_not_checked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(response_cycle, "_checked", {})
    monkeypatch.setattr(response_cycle, "_checked_names", {})
    calls: list[bytes] = []
    checked_name = response_cycle._checked_name

    def counting(name: bytes, value: bytes) -> bytes:
        calls.append(name)
        return checked_name(name, value)

    monkeypatch.setattr(response_cycle, "_checked_name", counting)
    headers = [(b"x-content-type-options", b"nosniff"), (b"content-length", b"0")]
    for _ in range(3):
        await _outcome(_cycle(PlatformCycle, "GET", True), headers, 200, b"")
    assert calls == [b"date", b"x-content-type-options", b"content-length"]
    # Not remembered: anything but a tuple of two exact bytes.
    await _outcome(_cycle(PlatformCycle, "GET", True), [[b"x-list", b"1"]], 200, b"")
    await _outcome(_cycle(PlatformCycle, "GET", True), [[b"x-list", b"1"]], 200, b"")
    assert calls.count(b"x-list") == 2


def _draining_cycle(draining: bool) -> Any:
    lifecycle = Lifecycle()
    if draining:
        lifecycle.begin_draining()
    cls = type("Draining", (PlatformCycle,), {"lifecycle": lifecycle})
    return _cycle(cls, "GET", True)


@pytest.mark.parametrize("headers", [[], [(b"connection", b"keep-alive")]])
async def test_a_draining_response_closes_its_connection(headers: list[Any]) -> None:
    cycle = _draining_cycle(True)
    _, written, closed, state = await _outcome(cycle, headers, 200, b"")
    assert b"\r\nconnection: close\r\n" in written
    assert b"keep-alive" not in written
    assert closed  # keep_alive off: closed once the response is sent
    assert state[0] is False
    # The same as CloseWhenDraining around the app, served by uvicorn's own cycle.
    outer = _cycle(RequestResponseCycle, "GET", True)
    lifecycle = Lifecycle()
    lifecycle.begin_draining()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        await send({"type": "http.response.body", "body": b""})

    await CloseWhenDraining(app, lifecycle)({"type": "http"}, _never_receive, outer.send)
    assert b"".join(outer.transport.written) == written


async def _never_receive() -> Any:
    raise AssertionError("not called")


async def test_a_response_before_the_drain_keeps_its_connection() -> None:
    _, written, closed, state = await _outcome(_draining_cycle(False), [], 200, b"")
    assert b"connection" not in written
    assert not closed
    assert state[0] is True


def test_with_cycle_class_refuses_a_method_that_builds_no_cycle() -> None:
    with pytest.raises(TypeError, match="does not build a RequestResponseCycle"):
        with_cycle_class(HttpToolsProtocol.on_url, PlatformCycle)


def test_the_protocols_on_headers_complete_is_uvicorns_code() -> None:
    protocol = limited_protocol(WebSettings())
    method = protocol.on_headers_complete
    assert method.__code__ is HttpToolsProtocol.on_headers_complete.__code__
    cycle_class = method.__globals__["RequestResponseCycle"]
    assert issubclass(cycle_class, PlatformCycle)
    assert cycle_class.lifecycle is None
    # uvicorn's module is untouched.
    assert HttpToolsProtocol.on_headers_complete.__globals__["RequestResponseCycle"] is (
        RequestResponseCycle
    )


async def test_build_server_serves_each_request_with_the_platform_cycle() -> None:
    seen: list[type] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        seen.append(type(getattr(send, "__self__", None)))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    fastapi_app = create_app(ServiceSettings(service_name="cycle"), version="1")
    server = build_server(fastapi_app, WebSettings(), log_level="critical")
    server.config.app = app  # the same server and protocol, around a raw app that can look
    server.config.loaded = False
    async with serving(app, server=server) as running, httpx.AsyncClient() as client:
        for _ in range(2):
            response = await client.get(f"{running.url}/")
            assert response.status_code == 204
    assert len(seen) == 2
    assert all(issubclass(kind, PlatformCycle) for kind in seen)
    assert all(kind.lifecycle is not None for kind in seen)  # type: ignore[attr-defined]


def test_build_server_wraps_the_app_only_for_another_protocol() -> None:
    app = create_app(ServiceSettings(service_name="cycle"), version="1")
    own = build_server(app, WebSettings())
    other = build_server(app, WebSettings(), http="h11")
    assert own.config.app is app
    assert isinstance(other.config.app, CloseWhenDraining)
