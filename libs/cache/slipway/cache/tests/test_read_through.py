"""ReadThroughCache on the real Redis: hits, TTLs, one load per miss, errors not cached."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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


class GatedLoader(CountingLoader):
    """A loader that says when it is called, then waits for the test to let it finish."""

    def __init__(self, value: User) -> None:
        super().__init__(value)
        self.called = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> User:
        self.called.set()
        await self.release.wait()
        return await super().__call__()


class SequencedRedis:
    """Another instance's Redis, with the test deciding when its reads and lock attempts run.

    `attempting` is set when a lock attempt (`SET NX`) starts, `refused` once one found the
    lock held. After a refusal reads, and with `hold_lock_attempts` lock attempts, wait for
    `other_done`: the other instance's load has finished (value written, lock released), so
    the interleaving is the test's, not the scheduler's.
    """

    def __init__(self, redis: Any, other_done: asyncio.Event, *, hold_lock_attempts: bool) -> None:
        self._redis = redis
        self._other_done = other_done
        self._hold_lock_attempts = hold_lock_attempts
        self.attempting = asyncio.Event()
        self.refused = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def get(self, key: str) -> Any:
        if self.refused.is_set():
            await self._other_done.wait()
        return await self._redis.get(key)

    async def set(self, key: str, value: Any, **options: Any) -> Any:
        if options.get("nx"):
            self.attempting.set()
            if self._hold_lock_attempts:
                await self._other_done.wait()
        taken = await self._redis.set(key, value, **options)
        if options.get("nx") and not taken:
            self.refused.set()
        return taken


@pytest.fixture
async def other_client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A second client with its own pool, as another process has."""
    other = RedisClient(redis_settings)
    try:
        yield other
    finally:
        await other.stop()


async def first_then_second(
    client: RedisClient,
    other_client: RedisClient,
    registry: CollectorRegistry,
    *,
    hold_lock_attempts: bool,
) -> tuple[list[User], GatedLoader]:
    """Five calls on each of two instances; the second's start once the first is loading."""
    first_done = asyncio.Event()
    sequenced = SequencedRedis(
        other_client.redis, first_done, hold_lock_attempts=hold_lock_attempts
    )
    other_client.redis = sequenced  # type: ignore[assignment]  # the same calls, sequenced
    first, second = users(client, registry), users(other_client, CollectorRegistry())
    loader = GatedLoader(ALICE)
    async with asyncio.timeout(30):  # a safety net only: every wait below is on an event
        firsts = asyncio.gather(*(first.get_or_load("1", loader) for _ in range(5)))
        await loader.called.wait()  # the first instance holds the lock and is loading
        seconds = asyncio.gather(*(second.get_or_load("1", loader) for _ in range(5)))
        # The second instance read a miss and tried the lock: it found it held, or (held
        # back) it takes it once the first instance has stored the value and released it.
        await (sequenced.attempting if hold_lock_attempts else sequenced.refused).wait()
        loader.release.set()
        results = await firsts
        first_done.set()
        results += await seconds
    return results, loader


@pytest.mark.integration
async def test_two_instances_share_one_load(
    client: RedisClient, other_client: RedisClient, registry: CollectorRegistry
) -> None:
    """The second instance waits on the first's lock and reads the value it stored."""
    results, loader = await first_then_second(
        client, other_client, registry, hold_lock_attempts=False
    )
    assert results == [ALICE] * 10
    assert loader.calls == 1
    assert await client.redis.exists(users(client, registry).lock_key("1")) == 0  # released


@pytest.mark.integration
async def test_a_lock_taken_after_another_instance_loaded_reads_its_value(
    client: RedisClient, other_client: RedisClient, registry: CollectorRegistry
) -> None:
    """The second instance misses, then takes the lock only after the first released it."""
    results, loader = await first_then_second(
        client, other_client, registry, hold_lock_attempts=True
    )
    assert results == [ALICE] * 10
    assert loader.calls == 1


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
