"""Refusing parts that keep per-process state when `web.workers > 1`; the repeated SIGTERM."""

import pickle
import signal
import time

import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware

from slipway.config import ServiceSettings
from slipway.web import (
    IdempotencyMiddleware,
    InMemoryIdempotencyStore,
    RateLimitSettings,
    ServiceParts,
    WebSettings,
    build_server,
    create_app,
    serve,
)
from slipway.web.multiprocess import single_process_problems
from slipway.web.ratelimit import MemoryRateLimitBackend
from slipway.web.tests import workers_app

VARIABLES = {
    "workers_variable": "APP_WEB__WORKERS",
    "rate_limit_variable": "APP_WEB__RATE_LIMIT__ENABLED",
}


class Shared:
    """A part that works across processes (declares nothing)."""

    name = "shared"


class LocalStream:
    """An in-process stream: declares it."""

    multiprocess_safe = False
    multiprocess_advice = "configure Redis (APP_REDIS__URL)"


class Relay:
    """A resource holding a stream, as an outbox relay does."""

    name = "relay"

    def __init__(self, stream: object) -> None:
        self.stream = stream


def _web(workers: int, *, rate_limit: bool = False) -> WebSettings:
    return WebSettings(workers=workers, rate_limit=RateLimitSettings(enabled=rate_limit))


def test_one_worker_accepts_everything() -> None:
    parts = ServiceParts(resources=[LocalStream()])  # type: ignore[list-item]

    assert single_process_problems(parts, _web(1, rate_limit=True), **VARIABLES) == []


def test_shared_parts_and_no_rate_limit_are_accepted_with_workers() -> None:
    parts = ServiceParts(resources=[Shared(), Relay(Shared())])  # type: ignore[list-item]

    assert single_process_problems(parts, _web(4), **VARIABLES) == []


def test_in_memory_rate_limit_names_the_setting_to_change() -> None:
    (problem,) = single_process_problems(ServiceParts(), _web(2, rate_limit=True), **VARIABLES)

    assert problem.startswith("APP_WEB__WORKERS=2: the rate limiter counts in each process")
    assert "APP_WEB__RATE_LIMIT__ENABLED=false" in problem


def test_a_declared_part_held_by_a_resource_is_found_with_its_advice() -> None:
    parts = ServiceParts(resources=[Relay(LocalStream())])  # type: ignore[list-item]

    (problem,) = single_process_problems(parts, _web(2), **VARIABLES)

    assert problem == (
        "APP_WEB__WORKERS=2: LocalStream keeps its state in one process;"
        " configure Redis (APP_REDIS__URL), or set APP_WEB__WORKERS=1"
    )


def test_platform_in_memory_stores_are_refused() -> None:
    parts = ServiceParts(
        middleware=[Middleware(IdempotencyMiddleware, store=InMemoryIdempotencyStore())],
        rate_limit_backend=MemoryRateLimitBackend(),
    )

    problems = single_process_problems(parts, _web(2, rate_limit=True), **VARIABLES)

    assert [p.split(" keeps")[0] for p in problems] == [
        "APP_WEB__WORKERS=2: ratelimit-memory (MemoryRateLimitBackend)",
        "APP_WEB__WORKERS=2: InMemoryIdempotencyStore",
    ]


def test_serve_refuses_an_app_built_here_with_several_workers(
    service_settings: ServiceSettings,
) -> None:
    app = create_app(service_settings, web=_web(2))

    with pytest.raises(ValueError, match=r"web.workers=2: .* Service.main\(\)"):
        serve(app)


def test_the_service_pickles_for_its_workers() -> None:
    copy = pickle.loads(pickle.dumps(workers_app.service))  # noqa: S301 - our own bytes

    assert copy.package is workers_app.service.package
    assert copy.compose is workers_app.compose


def _draining_app(service_settings: ServiceSettings) -> FastAPI:
    return create_app(service_settings, web=WebSettings(drain_delay_seconds=5))


def test_a_second_sigterm_ends_the_drain_delay(service_settings: ServiceSettings) -> None:
    server = build_server(_draining_app(service_settings))
    server.handle_exit(signal.SIGTERM, None)
    first = server.exit_at
    server.handle_exit(signal.SIGTERM, None)

    assert first is not None
    assert server.exit_at is not None
    assert server.exit_at < first


def test_sigterm_drains_for_the_delay_and_ctrl_c_does_not_wait(
    service_settings: ServiceSettings,
) -> None:
    terminated = build_server(_draining_app(service_settings))
    interrupted = build_server(_draining_app(service_settings))
    before = time.monotonic()
    terminated.handle_exit(signal.SIGTERM, None)
    interrupted.handle_exit(signal.SIGINT, None)
    after = time.monotonic()

    assert terminated.lifecycle.draining
    assert interrupted.lifecycle.draining
    assert terminated.exit_at is not None
    assert terminated.exit_at >= before + 5
    assert interrupted.exit_at is not None
    assert interrupted.exit_at <= after
    assert not interrupted.force_exit  # in-flight requests still finish gracefully


def test_a_worker_counts_a_sigterm_delivered_twice_once(
    service_settings: ServiceSettings,
) -> None:
    server = build_server(_draining_app(service_settings))
    server.repeated_signal_seconds = 1.0
    server.handle_exit(signal.SIGTERM, None)  # to the process group
    first = server.exit_at
    server.handle_exit(signal.SIGTERM, None)  # forwarded by the supervisor

    assert server.lifecycle.draining
    assert server.exit_at == first
