"""`RedisClient`: a pooled redis.asyncio client as a slipway.web Resource, with readiness."""

import asyncio

from redis.asyncio import BlockingConnectionPool, Redis

from slipway.cache.settings import RedisSettings


class RedisReadiness:
    """A slipway.web ReadinessCheck: PING within the readiness timeout."""

    def __init__(self, client: "RedisClient") -> None:
        self.name = client.name
        self._client = client

    async def __call__(self) -> None:
        """Raise unless Redis answers PING in time."""
        await self._client.ping()


class RedisClient:
    """A redis.asyncio client on a bounded, blocking connection pool.

    A slipway.web `Resource`: `start()` checks Redis answers, `stop()` closes the pool's
    connections. Connections open lazily, so `.redis` works from construction on.
    """

    def __init__(self, settings: RedisSettings | None = None, *, name: str = "redis") -> None:
        self.settings = settings or RedisSettings()
        self.name = name
        self.readiness_check = RedisReadiness(self)
        self.redis: Redis = self._connect()

    def _connect(self) -> Redis:
        s = self.settings
        pool = BlockingConnectionPool.from_url(
            s.url.get_secret_value(),
            max_connections=s.max_connections,
            timeout=s.pool_timeout_seconds,
            socket_timeout=s.socket_timeout_seconds,
            socket_connect_timeout=s.socket_connect_timeout_seconds,
            health_check_interval=s.health_check_interval_seconds,
        )
        return Redis.from_pool(pool)

    def __repr__(self) -> str:
        return f"RedisClient(name={self.name!r})"

    def key(self, *parts: str) -> str:
        """`parts` joined with ':' after the settings' key prefix."""
        return self.settings.key_prefix + ":".join(parts)

    async def start(self) -> None:
        """Check that Redis answers; raise (start-up fails) when it does not."""
        await self.ping(self.settings.socket_connect_timeout_seconds)

    async def stop(self) -> None:
        """Close the pool's connections (a later command reconnects)."""
        await self.redis.aclose()
        self.redis = self._connect()

    async def ping(self, timeout_seconds: float | None = None) -> None:
        """PING; raise TimeoutError past the timeout (default: the readiness timeout)."""
        async with asyncio.timeout(timeout_seconds or self.settings.readiness_timeout_seconds):
            await self.redis.ping()
