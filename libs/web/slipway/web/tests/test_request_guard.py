"""The fused request guard behaves exactly like the four middleware it replaces, stacked."""

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.config import ServiceSettings
from slipway.web import RateLimitSettings, WebSettings, create_app
from slipway.web.body_limit import BodyLimitMiddleware
from slipway.web.guard import RequestGuardMiddleware
from slipway.web.limits import RequestLimitsMiddleware
from slipway.web.parts import ServiceParts
from slipway.web.platform_layer import PlatformLayerMiddleware
from slipway.web.problems import UnhandledErrorMiddleware
from slipway.web.ratelimit import (
    MemoryRateLimitBackend,
    RateLimitBackend,
    RateLimitDecision,
    RateLimitMiddleware,
    principal_or_client_ip,
)

LIMITS: dict[str, Any] = {"max_url_bytes": 64, "max_header_bytes": 600}
BODY_LIMIT = 16
RATE: dict[str, Any] = {"requests": 3, "window_seconds": 60.0, "exempt_paths": ("/exempt",)}


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


# (method, path, request headers, body factory): every branch the four layers take.
REQUESTS: list[tuple[str, str, dict[str, str], Callable[[], Any] | None]] = [
    ("GET", "/items/1", {}, None),
    ("GET", "/items/" + "9" * 80, {}, None),  # 414
    ("GET", "/items/2", {"x-padding": "p" * 700}, None),  # 431
    ("POST", "/echo", {"x-user": "w1"}, lambda: b"small"),
    ("POST", "/echo", {"x-user": "w2"}, lambda: b"x" * 40),  # 413 from Content-Length
    ("POST", "/echo", {"x-user": "w3"}, lambda: _chunks(b"x" * 10, b"y" * 10)),  # 413 counted
    ("POST", "/echo", {"x-user": "w4"}, lambda: _chunks(b"ok")),  # counted, under the limit
    ("GET", "/fail", {"x-user": "f"}, None),  # 500 problem
    ("GET", "/own-headers", {"x-user": "o"}, None),  # the app's RateLimit-Limit is kept
    ("GET", "/exempt", {}, None),
    ("GET", "/items/3", {"x-user": "alice"}, None),
    ("GET", "/items/4", {"x-user": "alice"}, None),
    ("GET", "/items/5", {"x-user": "alice"}, None),
    ("GET", "/items/6", {"x-user": "alice"}, None),  # 429 for alice
    ("GET", "/items/7", {"x-user": "bob"}, None),
    ("GET", "/items/8", {}, None),
    ("GET", "/items/9", {}, None),
    ("GET", "/items/10", {}, None),  # 429 for the client address
    ("GET", "/exempt", {}, None),
    ("GET", "/late-failure", {"x-user": "l"}, None),  # fails after the response started
]


def routes() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/echo")
    async def echo(body: bytes = b"") -> dict[str, int]:
        return {"length": len(body)}

    @app.get("/fail")
    async def fail() -> None:
        raise RuntimeError("boom")

    @app.get("/own-headers")
    async def own_headers() -> JSONResponse:
        return JSONResponse({}, headers={"RateLimit-Limit": "7"})

    @app.get("/exempt")
    async def exempt() -> dict[str, bool]:
        return {"exempt": True}

    @app.get("/late-failure")
    async def late_failure() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"partial"
            raise RuntimeError("late")

        return StreamingResponse(body())

    return app


class UserAuth:
    """Stands in for auth: leaves `x-user` in the scope state as the principal."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", ()):
            if name == b"x-user":
                scope.setdefault("state", {})["principal"] = value.decode()
        await self.app(scope, receive, send)


class RemoteBackend:
    """A backend that is not the in-memory one, so the middleware awaits `hit`."""

    def __init__(self) -> None:
        self.memory = MemoryRateLimitBackend(clock=lambda: 1000.0)

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> RateLimitDecision:
        return await self.memory.hit(key, limit=limit, window_seconds=window_seconds)


def user_or_client_ip(scope: Scope) -> str:
    """Without auth in the stack, the bucket of the `x-user` header (else the address)."""
    for name, value in scope.get("headers", ()):
        if name == b"x-user":
            return f"user:{value.decode()}"
    return principal_or_client_ip(scope)


def _key(auth: bool) -> Callable[[Scope], str]:
    return principal_or_client_ip if auth else user_or_client_ip


def _rate_options(backend: RateLimitBackend, auth: bool = False) -> dict[str, Any]:
    return {
        "rate_limit_key": _key(auth),
        "rate_limit_backend": backend,
        "rate_limit_requests": RATE["requests"],
        "rate_limit_window_seconds": RATE["window_seconds"],
        "rate_limit_exempt_paths": RATE["exempt_paths"],
    }


def stacked(backend: RateLimitBackend, auth: bool) -> FastAPI:
    middleware = [
        Middleware(RequestLimitsMiddleware, **LIMITS),
        Middleware(UnhandledErrorMiddleware),
        *([Middleware(UserAuth)] if auth else []),
        Middleware(RateLimitMiddleware, backend=backend, key_func=_key(auth), **RATE),
        Middleware(BodyLimitMiddleware, max_body_bytes=BODY_LIMIT),
    ]
    app = routes()
    app.user_middleware[:0] = middleware
    return app


def fused(backend: RateLimitBackend, auth: bool) -> FastAPI:
    options: dict[str, Any] = {**LIMITS, "unhandled_errors": True}
    inner: dict[str, Any] = {**_rate_options(backend, auth), "max_body_bytes": BODY_LIMIT}
    if auth:
        middleware = [
            Middleware(RequestGuardMiddleware, **options),
            Middleware(UserAuth),
            Middleware(RequestGuardMiddleware, **inner),
        ]
    else:
        middleware = [Middleware(RequestGuardMiddleware, **options, **inner)]
    app = routes()
    app.user_middleware[:0] = middleware
    return app


async def send_requests(app: FastAPI) -> list[httpx.Response]:
    """Each of REQUESTS sent to `app` in turn, its errors answered as the server would."""
    responses = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for method, path, headers, body in REQUESTS:
            content = body() if body else None
            responses.append(await http.request(method, path, headers=headers, content=content))
    return responses


async def _observe(
    build: Callable[[RateLimitBackend, bool], FastAPI],
    backend: RateLimitBackend,
    auth: bool,
    caplog: pytest.LogCaptureFixture,
) -> dict[str, Any]:
    """What a client and the error log see for REQUESTS."""
    caplog.clear()
    responses = [
        (response.status_code, response.headers.raw, response.text)
        for response in await send_requests(build(backend, auth))
    ]
    log = [(r.name, r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    return {"responses": responses, "log": log}


@pytest.mark.parametrize("auth", [False, True], ids=["one-layer", "split-around-auth"])
@pytest.mark.parametrize("remote", [False, True], ids=["memory-backend", "other-backend"])
async def test_fused_guard_matches_the_four_stacked_middleware_byte_for_byte(
    auth: bool, remote: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="slipway.web")

    def backend() -> RateLimitBackend:
        return RemoteBackend() if remote else MemoryRateLimitBackend(clock=lambda: 1000.0)

    expected = await _observe(stacked, backend(), auth, caplog)
    actual = await _observe(fused, backend(), auth, caplog)

    assert actual == expected
    # The comparison covers what it claims to: every branch was taken.
    statuses = [status for status, _, _ in expected["responses"]]
    assert {200, 413, 414, 429, 431, 500} <= set(statuses)
    assert len(expected["log"]) == 2  # /fail and /late-failure
    # Each caller has a bucket of its own: alice is refused, then bob and the anonymous
    # client get in until the address's bucket is empty too.
    assert statuses[13:18] == [429, 200, 200, 200, 429]


async def test_guard_passes_other_scopes_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    guard = RequestGuardMiddleware(
        app, **LIMITS, unhandled_errors=True, **_rate_options(MemoryRateLimitBackend())
    )

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        return None

    await guard({"type": "lifespan"}, receive, send)
    await guard({"type": "websocket", "path": "/" + "x" * 100, "headers": []}, receive, send)
    assert seen == ["lifespan", "websocket"]


def _classes(app: FastAPI) -> list[object]:
    return [middleware.cls for middleware in app.user_middleware]


class _Auth:
    """The smallest `AppAuth`: only its middleware matters here."""

    resource: Any = None
    readiness_check: Any = None

    def middleware(self) -> Middleware:
        return Middleware(UserAuth)

    def bind(self, app: Any) -> None:
        return None


def test_create_app_splits_the_checks_around_auth(service_settings: ServiceSettings) -> None:
    web = WebSettings(rate_limit=RateLimitSettings(requests=5, window_seconds=1))
    parts = ServiceParts(auth=_Auth())
    app = create_app(service_settings, parts, web=web, configure_logs=False)

    # The outer checks are fused into the platform layer (test_platform_layer_guard.py).
    assert _classes(app) == [PlatformLayerMiddleware, UserAuth, RequestGuardMiddleware]
    outer = app.user_middleware[0].kwargs["request_guard"]
    assert isinstance(outer, dict)
    assert outer["unhandled_errors"] is True
    assert "rate_limit_requests" not in outer
    inner = app.user_middleware[2].kwargs
    assert inner["rate_limit_requests"] == 5
    assert "unhandled_errors" not in inner
