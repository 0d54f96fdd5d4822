"""Token buckets: the GCRA arithmetic, the in-memory backend, and Redis shared by instances."""

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from slipway.config import ServiceSettings
from slipway.web import RateLimitSettings, WebSettings, create_app
from slipway.web.ratelimit import MemoryRateLimitBackend, RedisRateLimitBackend
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


@pytest.mark.integration
async def test_redis_limit_is_shared_by_two_instances(
    service_settings: ServiceSettings, redis_url: str, redis_prefix: str
) -> None:
    limits = RateLimitSettings(
        requests=4, window_seconds=60, redis_url=redis_url, key_prefix=redis_prefix
    )
    first = _limited_app(service_settings, limits)
    second = _limited_app(service_settings, limits)
    async with app_client(first) as one, app_client(second) as two:
        statuses = []
        for client in (one, two, one, two, one, two):
            statuses.append((await client.get("/missing")).status_code)
        assert statuses == [404, 404, 404, 404, 429, 429]
        refused = await two.get("/missing")
        assert refused.headers["ratelimit-limit"] == "4"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["retry-after"]) <= 15


@pytest.mark.integration
async def test_redis_bucket_counts_remaining_and_expires(redis_url: str, redis_prefix: str) -> None:
    backend = RedisRateLimitBackend(redis_url, prefix=redis_prefix)
    await backend.start()
    try:
        decisions = [await backend.hit("k", limit=3, window_seconds=0.3) for _ in range(4)]
        assert [d.remaining for d in decisions] == [2, 1, 0, 0]
        assert not decisions[3].allowed
        assert 0 < decisions[3].retry_after_seconds <= 0.1 + 1e-3
        await asyncio.sleep(0.15)  # one token (0.1 s) back
        assert (await backend.hit("k", limit=3, window_seconds=0.3)).allowed
        client = Redis.from_url(redis_url)
        try:
            ttl_ms = await client.pttl(redis_prefix + "k")
        finally:
            await client.aclose()
        assert 0 < ttl_ms <= 400  # the bucket key expires once it would be full again
    finally:
        await backend.stop()


async def test_unreachable_redis_lets_requests_through() -> None:
    backend = RedisRateLimitBackend("redis://127.0.0.1:1/0")
    await backend.start()
    try:
        decision = await backend.hit("k", limit=1, window_seconds=60)
        assert decision.allowed
    finally:
        await backend.stop()
