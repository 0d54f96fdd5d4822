"""ReadThroughCache on the real Redis: hits, TTLs, one load per miss, errors not cached."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, SecretStr

from slipway.cache import ReadThroughCache, RedisClient, RedisSettings


class User(BaseModel):
    id: int
    name: str


class LoaderError(Exception):
    pass


class CountingLoader:
    """A loader that counts its calls, optionally slow or failing."""

    def __init__(self, value: User, *, delay: float = 0.0, fail: bool = False) -> None:
        self.value = value
        self.delay = delay
        self.fail = fail
        self.calls = 0

    async def __call__(self) -> User:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise LoaderError(f"load {self.calls} failed")
        return self.value


ALICE = User(id=1, name="alice")


def users(
    client: RedisClient, registry: CollectorRegistry, **options: float
) -> ReadThroughCache[User]:
    return ReadThroughCache(
        client, User, namespace="users", ttl_seconds=60, registry=registry, **options
    )


def count(registry: CollectorRegistry, metric: str, **labels: str) -> float:
    return registry.get_sample_value(metric, {"cache": "users", **labels}) or 0.0


@pytest.mark.integration
async def test_miss_loads_then_hit_reads_redis(
    client: RedisClient, registry: CollectorRegistry
) -> None:
    cache = users(client, registry)
    loader = CountingLoader(ALICE)
    assert await cache.get_or_load("1", loader) == ALICE
    assert await cache.get_or_load("1", loader) == ALICE
    assert loader.calls == 1
    assert await client.redis.get(cache.cache_key("1")) == b'{"id":1,"name":"alice"}'
    assert count(registry, "cache_requests_total", result="miss") == 1
    assert count(registry, "cache_requests_total", result="hit") == 1
    assert count(registry, "cache_loads_total", outcome="success") == 1


@pytest.mark.integration
async def test_values_expire_after_their_ttl(
    client: RedisClient, registry: CollectorRegistry
) -> None:
    cache = users(client, registry)
    loader = CountingLoader(ALICE)
    await cache.get_or_load("long", loader, ttl_seconds=30)
    assert 29_000 < await client.redis.pttl(cache.cache_key("long")) <= 30_000
    await cache.get_or_load("short", loader, ttl_seconds=0.2)
    await asyncio.sleep(0.3)
    await cache.get_or_load("short", loader, ttl_seconds=0.2)
    assert loader.calls == 3  # long once, short twice


@pytest.mark.integration
async def test_invalidate_forces_a_reload(client: RedisClient, registry: CollectorRegistry) -> None:
    cache = users(client, registry)
    loader = CountingLoader(ALICE)
    await cache.get_or_load("1", loader)
    await cache.invalidate("1")
    await cache.get_or_load("1", loader)
    assert loader.calls == 2


@pytest.mark.integration
async def test_fifty_concurrent_misses_call_the_loader_once(
    client: RedisClient, registry: CollectorRegistry
) -> None:
    cache = users(client, registry)
    loader = CountingLoader(ALICE, delay=0.1)
    results = await asyncio.gather(*(cache.get_or_load("1", loader) for _ in range(50)))
    assert results == [ALICE] * 50
    assert loader.calls == 1


@pytest.mark.integration
async def test_two_instances_share_one_load(
    client: RedisClient, redis_settings: RedisSettings, registry: CollectorRegistry
) -> None:
    other_client = RedisClient(redis_settings)  # its own pool, as in another process
    try:
        first, second = users(client, registry), users(other_client, CollectorRegistry())
        loader = CountingLoader(ALICE, delay=0.2)
        calls: list[Callable[[], Awaitable[User]]] = [
            lambda: first.get_or_load("1", loader),
            lambda: second.get_or_load("1", loader),
        ] * 5
        results = await asyncio.gather(*(call() for call in calls))
    finally:
        await other_client.stop()
    assert results == [ALICE] * 10
    assert loader.calls == 1
    assert await client.redis.exists(first.lock_key("1")) == 0  # released


@pytest.mark.integration
async def test_loader_error_reaches_every_waiter_and_is_not_cached(
    client: RedisClient, registry: CollectorRegistry
) -> None:
    cache = users(client, registry)
    failing = CountingLoader(ALICE, delay=0.05, fail=True)
    outcomes = await asyncio.gather(
        *(cache.get_or_load("1", failing) for _ in range(10)), return_exceptions=True
    )
    assert failing.calls == 1
    assert all(isinstance(o, LoaderError) and str(o) == "load 1 failed" for o in outcomes)
    assert await client.redis.exists(cache.cache_key("1"), cache.lock_key("1")) == 0
    assert count(registry, "cache_loads_total", outcome="error") == 1
    assert await cache.get_or_load("1", CountingLoader(ALICE)) == ALICE  # next call retries


@pytest.mark.integration
async def test_lock_held_elsewhere_is_waited_for_then_bypassed(
    client: RedisClient, registry: CollectorRegistry
) -> None:
    cache = users(client, registry, lock_wait_seconds=0.3)
    await client.redis.set(cache.lock_key("1"), "another-instance", px=10_000)
    loader = CountingLoader(ALICE)
    started = asyncio.get_running_loop().time()
    assert await cache.get_or_load("1", loader) == ALICE
    waited = asyncio.get_running_loop().time() - started
    assert 0.3 <= waited < 1.0
    assert loader.calls == 1
    assert await client.redis.get(cache.lock_key("1")) == b"another-instance"  # not ours


@pytest.mark.integration
async def test_waiter_rereads_what_the_lock_holder_stored(
    client: RedisClient, registry: CollectorRegistry
) -> None:
    cache = users(client, registry)
    await client.redis.set(cache.lock_key("1"), "another-instance", px=10_000)
    loader = CountingLoader(User(id=1, name="not used"))
    waiting = asyncio.create_task(cache.get_or_load("1", loader))
    await asyncio.sleep(0.1)
    await client.redis.set(cache.cache_key("1"), ALICE.model_dump_json(), px=10_000)
    assert await waiting == ALICE
    assert loader.calls == 0


@pytest.mark.parametrize("callers", [1, 20])
async def test_redis_down_falls_back_to_one_load_per_process(
    registry: CollectorRegistry, callers: int
) -> None:
    # No Redis, hence no lock: only the in-process single flight keeps this to one load.
    down = RedisClient(RedisSettings(url=SecretStr("redis://127.0.0.1:1/0")))
    cache = users(down, registry)
    loader = CountingLoader(ALICE, delay=0.05)
    results = await asyncio.gather(*(cache.get_or_load("1", loader) for _ in range(callers)))
    assert results == [ALICE] * callers
    assert loader.calls == 1
    assert count(registry, "cache_backend_errors_total") >= 1
    await down.stop()
