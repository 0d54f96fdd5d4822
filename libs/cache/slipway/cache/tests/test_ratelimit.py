"""The Redis rate-limit backend: one token bucket shared by instances, failing open."""

import asyncio

import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from slipway.cache import RedisClient, RedisSettings
from slipway.cache.ratelimit import RedisRateLimitBackend
from slipway.cache.testing import PrivateRedisServer
from slipway.config import Environment, ServiceSettings
from slipway.web import RateLimitSettings, ServiceParts, WebSettings, create_app
from slipway.web.testing import app_client

pytestmark = pytest.mark.integration


def limited_app(redis_settings: RedisSettings, requests: int) -> FastAPI:
    """An instance of a service whose limiter uses its own RedisClient resource."""
    client = RedisClient(redis_settings)
    settings = ServiceSettings(service_name="cache-test", environment=Environment.TEST)
    return create_app(
        settings,
        ServiceParts(resources=[client], rate_limit_backend=RedisRateLimitBackend(client)),
        web=WebSettings(rate_limit=RateLimitSettings(requests=requests, window_seconds=60)),
    )


async def test_limit_is_shared_by_two_instances(redis_settings: RedisSettings) -> None:
    first = limited_app(redis_settings, 4)
    second = limited_app(redis_settings, 4)
    async with app_client(first) as one, app_client(second) as two:
        statuses = [(await c.get("/missing")).status_code for c in (one, two) * 3]
        assert statuses == [404, 404, 404, 404, 429, 429]
        refused = await two.get("/missing")
        assert refused.headers["ratelimit-limit"] == "4"
        assert refused.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["retry-after"]) <= 15


async def test_bucket_counts_remaining_and_expires_under_the_key_prefix(
    client: RedisClient,
) -> None:
    backend = RedisRateLimitBackend(client)
    decisions = [await backend.hit("k", limit=3, window_seconds=0.3) for _ in range(4)]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert not decisions[3].allowed
    assert 0 < decisions[3].retry_after_seconds <= 0.1 + 1e-3
    await asyncio.sleep(0.15)  # one token (0.1 s) back
    assert (await backend.hit("k", limit=3, window_seconds=0.3)).allowed
    ttl_ms = await client.redis.pttl(client.key("ratelimit", "k"))
    assert 0 < ttl_ms <= 400  # the bucket key expires once it would be full again


async def test_requests_pass_while_redis_is_down_and_are_counted_again_after(
    private_redis_server: PrivateRedisServer,
) -> None:
    client = RedisClient(RedisSettings(url=SecretStr(private_redis_server.url)))
    backend = RedisRateLimitBackend(client)
    try:
        assert not [await backend.hit("k", limit=1, window_seconds=60) for _ in range(2)][1].allowed
        private_redis_server.stop()
        assert (await backend.hit("k", limit=1, window_seconds=60)).allowed
        private_redis_server.start()  # a fresh server: the bucket is gone
        assert (await backend.hit("k", limit=1, window_seconds=60)).allowed
        assert not (await backend.hit("k", limit=1, window_seconds=60)).allowed
    finally:
        await client.stop()
