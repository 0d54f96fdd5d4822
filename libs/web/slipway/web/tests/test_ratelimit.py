"""Token buckets: the GCRA arithmetic, the in-memory backend and the middleware.

The Redis backend is tested in slipway.cache.
"""

from typing import Any

import pytest

from slipway.config import ServiceSettings
from slipway.web import RateLimitSettings, WebSettings, create_app
from slipway.web.ratelimit import MemoryRateLimitBackend
from slipway.web.testing import app_client


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_bucket_refills_over_the_window() -> None:
    clock = FakeClock()
    backend = MemoryRateLimitBackend(clock=clock)
    decisions = [await backend.hit("k", limit=3, window_seconds=3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].retry_after_seconds == pytest.approx(1.0)
    assert decisions[2].reset_seconds == pytest.approx(3.0)
    clock.now += 1.0  # one token back
    assert (await backend.hit("k", limit=3, window_seconds=3)).allowed
    assert not (await backend.hit("k", limit=3, window_seconds=3)).allowed
    assert (await backend.hit("other", limit=3, window_seconds=3)).remaining == 2


def _limited_app(settings: ServiceSettings, limits: RateLimitSettings, **kwargs: Any) -> Any:
    return create_app(settings, web=WebSettings(rate_limit=limits), **kwargs)


async def test_limit_is_per_client_ip(service_settings: ServiceSettings) -> None:
    app = _limited_app(service_settings, RateLimitSettings(requests=2, window_seconds=60))
    async with app_client(app, client=("10.0.0.1", 1)) as first:
        statuses = [(await first.get("/missing")).status_code for _ in range(3)]
        assert statuses == [404, 404, 429]
        assert (await first.get("/health")).status_code == 200  # probes are exempt
    async with app_client(app, client=("10.0.0.2", 1)) as second:
        response = await second.get("/missing")
        assert response.status_code == 404
        assert response.headers["ratelimit-remaining"] == "1"


async def test_key_func_limits_by_principal(service_settings: ServiceSettings) -> None:
    app = _limited_app(
        service_settings,
        RateLimitSettings(requests=1, window_seconds=60),
        rate_limit_key=lambda scope: dict(scope["headers"]).get(b"x-tenant", b"").decode(),
    )
    async with app_client(app) as client:
        assert (await client.get("/missing", headers={"x-tenant": "a"})).status_code == 404
        assert (await client.get("/missing", headers={"x-tenant": "b"})).status_code == 404
        assert (await client.get("/missing", headers={"x-tenant": "a"})).status_code == 429


async def test_disabled_rate_limit_sends_no_headers(service_settings: ServiceSettings) -> None:
    app = _limited_app(service_settings, RateLimitSettings(enabled=False))
    async with app_client(app) as client:
        response = await client.get("/missing")
    assert "ratelimit-limit" not in response.headers
