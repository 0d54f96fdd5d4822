"""`ReadThroughCache[T]`: typed values in Redis with a TTL, each miss loaded only once.

Single flight at two levels: concurrent misses for one key in a process share one load (one
task per key), and across processes a short Redis lock (`SET NX PX`) lets one instance call
the loader while the others poll for its value; after `lock_wait_seconds` they load anyway.
If Redis fails, the loader's value is returned uncached (logged and counted).
"""

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Final, Generic, TypeVar

from prometheus_client import CollectorRegistry
from pydantic import TypeAdapter, ValidationError
from redis.exceptions import RedisError

from slipway.cache.client import RedisClient
from slipway.cache.metrics import cache_metrics

T = TypeVar("T")
logger = logging.getLogger("slipway.cache")

# Deletes the lock only if this loader still holds it (its token), never another's.
RELEASE_LOCK_SCRIPT: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
BACKEND_ERRORS = (RedisError, OSError, TimeoutError)


class _Miss:
    """Nothing cached (distinct from a cached None)."""


MISS: Final = _Miss()


class ReadThroughCache(Generic[T]):
    """Values of type `T` under `namespace`, loaded by the caller's loader on a miss."""

    def __init__(
        self,
        client: RedisClient,
        value_type: type[T] | TypeAdapter[T],
        *,
        namespace: str,
        ttl_seconds: float,
        lock_ttl_seconds: float = 10.0,
        lock_wait_seconds: float = 5.0,
        poll_interval_seconds: float = 0.02,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.client = client
        self.namespace = namespace
        self.ttl_seconds = ttl_seconds
        self.lock_ttl_seconds = lock_ttl_seconds
        self.lock_wait_seconds = lock_wait_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self._adapter: TypeAdapter[T] = (
            value_type if isinstance(value_type, TypeAdapter) else TypeAdapter(value_type)
        )
        self._metrics = cache_metrics(registry)
        self._in_flight: dict[str, asyncio.Task[T]] = {}

    def cache_key(self, key: str) -> str:
        """The Redis key holding `key`'s value."""
        return self.client.key("cache", self.namespace, key)

    def lock_key(self, key: str) -> str:
        """The Redis key of the lock taken while `key`'s value is loaded."""
        return self.client.key("lock", self.namespace, key)

    async def get_or_load(
        self, key: str, loader: Callable[[], Awaitable[T]], *, ttl_seconds: float | None = None
    ) -> T:
        """The cached value of `key`, or `await loader()` stored for `ttl_seconds`.

        A loader's exception reaches every caller waiting on that load and is not cached.
        """
        cached = await self._read(key)
        if not isinstance(cached, _Miss):
            self._metrics.requests.labels(self.namespace, "hit").inc()
            return cached
        self._metrics.requests.labels(self.namespace, "miss").inc()
        task = self._in_flight.get(key)
        if task is None:
            ttl = self.ttl_seconds if ttl_seconds is None else ttl_seconds
            task = asyncio.create_task(self._load_once(key, loader, ttl))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        # A cancelled caller must not cancel the load the other callers wait on.
        return await asyncio.shield(task)

    def _finished(self, key: str, task: "asyncio.Task[T]") -> None:
        if self._in_flight.get(key) is task:
            del self._in_flight[key]
        if not task.cancelled():
            task.exception()  # retrieved here too, in case every caller was cancelled

    async def invalidate(self, key: str) -> None:
        """Forget `key`'s cached value; the next get_or_load calls the loader."""
        await self.client.redis.delete(self.cache_key(key))

    async def _read(self, key: str) -> T | _Miss:
        try:
            raw = await self.client.redis.get(self.cache_key(key))
        except BACKEND_ERRORS as exc:
            self._backend_failed("read", exc)
            return MISS
        if raw is None:
            return MISS
        try:
            return self._adapter.validate_json(raw)
        except ValidationError:
            logger.warning("cache %s: unreadable value for %r; reloading", self.namespace, key)
            return MISS

    async def _load_once(self, key: str, loader: Callable[[], Awaitable[T]], ttl: float) -> T:
        """Load `key` while holding the cross-instance lock, or reread another's result."""
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_wait_seconds
        while True:
            cached = await self._read(key)  # another instance may have stored it meanwhile
            if not isinstance(cached, _Miss):
                return cached
            locked = await self._lock(key, token)
            if locked is not False or loop.time() >= deadline:
                break
            await asyncio.sleep(self.poll_interval_seconds)
        if locked is False:
            logger.warning("cache %s: lock for %r still held; loading anyway", self.namespace, key)
        try:
            if locked is True:
                # Another instance may have stored the value and released the lock between
                # the read above and this SET NX: read once more before loading.
                cached = await self._read(key)
                if not isinstance(cached, _Miss):
                    return cached
            try:
                value = await loader()
            except Exception:
                self._metrics.loads.labels(self.namespace, "error").inc()
                raise
            self._metrics.loads.labels(self.namespace, "success").inc()
            await self._write(key, value, ttl)
            return value
        finally:
            if locked is True:
                await self._unlock(key, token)

    async def _lock(self, key: str, token: str) -> bool | None:
        """True when taken, False when another holds it, None when Redis failed."""
        try:
            taken = await self.client.redis.set(
                self.lock_key(key), token, nx=True, px=int(self.lock_ttl_seconds * 1000)
            )
        except BACKEND_ERRORS as exc:
            self._backend_failed("lock", exc)
            return None
        return bool(taken)

    async def _unlock(self, key: str, token: str) -> None:
        try:
            await self.client.redis.eval(RELEASE_LOCK_SCRIPT, 1, self.lock_key(key), token)
        except BACKEND_ERRORS as exc:
            self._backend_failed("unlock", exc)  # it expires after lock_ttl_seconds anyway

    async def _write(self, key: str, value: T, ttl: float) -> None:
        try:
            await self.client.redis.set(
                self.cache_key(key), self._adapter.dump_json(value), px=max(1, int(ttl * 1000))
            )
        except BACKEND_ERRORS as exc:
            self._backend_failed("write", exc)

    def _backend_failed(self, operation: str, error: BaseException) -> None:
        self._metrics.errors.labels(self.namespace).inc()
        logger.warning("cache %s: Redis %s failed: %r", self.namespace, operation, error)
