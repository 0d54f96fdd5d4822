"""The platform layer with the request guard fused in behaves exactly like the two stacked.

`slipway.web.stack` passes the guard's options to `PlatformLayerMiddleware(request_guard=...)`
instead of adding `RequestGuardMiddleware` as the next layer: one coroutine call and one
`send` wrapper less per request, and the rate limiter's headers join the platform layer's
header pass. What a client, the access log and the error log see must not change.
"""

import io
import json
import re
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware

from slipway.config import ServiceSettings
from slipway.logging import configure_logging
from slipway.web import RateLimitSettings, WebSettings, create_app
from slipway.web.guard import RequestGuardMiddleware
from slipway.web.platform_layer import PlatformLayerMiddleware
from slipway.web.ratelimit import MemoryRateLimitBackend, RateLimitBackend
from slipway.web.tests.test_request_guard import (
    BODY_LIMIT,
    LIMITS,
    RemoteBackend,
    UserAuth,
    _rate_options,
    routes,
    send_requests,
)

# Request ids, trace and span ids differ from run to run.
_IDS = re.compile(rb"\b[0-9a-f]{16}(?:[0-9a-f]{16})?\b")
_LAYER: dict[str, Any] = {"docs_paths": ["/docs"], "hsts_max_age_seconds": 600}


def _app(middleware: list[Middleware]) -> FastAPI:
    app = routes()
    app.user_middleware[:0] = middleware
    return app


def _guards(backend: RateLimitBackend, auth: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outer guard's options and the inner one's (empty without auth: one guard)."""
    checks: dict[str, Any] = {**LIMITS, "unhandled_errors": True}
    inner: dict[str, Any] = {**_rate_options(backend, auth), "max_body_bytes": BODY_LIMIT}
    return (checks, inner) if auth else ({**checks, **inner}, {})


def _split(auth: bool, inner: dict[str, Any]) -> list[Middleware]:
    return [Middleware(UserAuth), Middleware(RequestGuardMiddleware, **inner)] if auth else []


def stacked(backend: RateLimitBackend, auth: bool) -> FastAPI:
    outer, inner = _guards(backend, auth)
    return _app(
        [
            Middleware(PlatformLayerMiddleware, **_LAYER),
            Middleware(RequestGuardMiddleware, **outer),
            *_split(auth, inner),
        ]
    )


def fused(backend: RateLimitBackend, auth: bool) -> FastAPI:
    outer, inner = _guards(backend, auth)
    return _app(
        [Middleware(PlatformLayerMiddleware, **_LAYER, request_guard=outer), *_split(auth, inner)]
    )


def _log_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [
        json.loads(_IDS.sub(b"<id>", line.encode())) for line in stream.getvalue().splitlines()
    ]
    for line in lines:
        line.pop("timestamp")
        line["duration_ms"] = "<ms>"
    return lines


async def _observe(app: FastAPI) -> dict[str, Any]:
    """What a client and the log (access lines, errors) see for REQUESTS."""
    stream = io.StringIO()
    configure_logging(service="web-test", version="1", environment="test", stream=stream)
    responses = []
    for response in await send_requests(app):
        raw = [(name, _IDS.sub(b"<id>", value)) for name, value in response.headers.raw]
        text = _IDS.sub(b"<id>", response.content).decode()
        responses.append((response.status_code, raw, text))
    lines = _log_lines(stream)
    access = [line for line in lines if line["logger"] == "slipway.access"]
    # The traceback's frames differ (one layer less): its last line, the exception, may not.
    errors = [
        {**line, "exception": line["exception"].splitlines()[-1]}
        for line in lines
        if line["level"] == "error"
    ]
    return {"responses": responses, "access": access, "errors": errors}


@pytest.mark.usefixtures("restore_root_logger")
@pytest.mark.parametrize("auth", [False, True], ids=["one-guard", "split-around-auth"])
@pytest.mark.parametrize("remote", [False, True], ids=["memory-backend", "other-backend"])
async def test_guard_fused_into_the_platform_layer_matches_the_two_stacked(
    auth: bool, remote: bool
) -> None:
    def backend() -> RateLimitBackend:
        return RemoteBackend() if remote else MemoryRateLimitBackend(clock=lambda: 1000.0)

    expected = await _observe(stacked(backend(), auth))
    actual = await _observe(fused(backend(), auth))

    assert actual == expected
    # Every branch was taken: each refusal, the 500, a failure after the response started.
    statuses = [status for status, _, _ in expected["responses"]]
    assert {200, 413, 414, 429, 431, 500} <= set(statuses)
    assert [line["status_code"] for line in expected["access"]] == statuses
    assert len(expected["errors"]) == 2  # /fail and /late-failure
    # The rate limiter's headers reached the admitted responses, with the platform's own.
    first = dict(expected["responses"][0][1])
    assert first[b"ratelimit-limit"] == b"3"
    assert b"x-request-id" in first
    assert b"x-content-type-options" in first


def _classes(app: FastAPI) -> list[object]:
    return [middleware.cls for middleware in app.user_middleware]


def test_create_app_fuses_the_guard_into_the_platform_layer(
    service_settings: ServiceSettings,
) -> None:
    web = WebSettings(rate_limit=RateLimitSettings(requests=5, window_seconds=1))
    app = create_app(service_settings, web=web, configure_logs=False)

    assert _classes(app) == [PlatformLayerMiddleware]
    guard = app.user_middleware[0].kwargs["request_guard"]
    assert isinstance(guard, dict)
    assert guard["rate_limit_requests"] == 5
    assert guard["unhandled_errors"] is True


def test_create_app_keeps_cors_between_the_platform_layer_and_the_guard(
    service_settings: ServiceSettings,
) -> None:
    web = WebSettings(cors_origins=["https://app.example"])
    app = create_app(service_settings, web=web, configure_logs=False)

    classes = _classes(app)
    assert classes[0] is PlatformLayerMiddleware
    assert classes[2] is RequestGuardMiddleware
    assert "request_guard" not in app.user_middleware[0].kwargs
