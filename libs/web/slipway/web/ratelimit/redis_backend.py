"""Token bucket (GCRA) in Redis, one atomic Lua script: instances share one limit."""

import logging

from redis.asyncio import Redis

from slipway.web.ratelimit.base import RateLimitDecision

logger = logging.getLogger("slipway.web.ratelimit")

# KEYS[1] bucket key; ARGV[1] limit; ARGV[2] period in microseconds.
# Returns {allowed, remaining, reset_us, retry_after_us}. Redis' clock is the one clock, so
# instances with skewed clocks still agree. Values are kept as integer microseconds and
# written with %d: Lua 5.1's tostring would round them to 14 significant digits.
GCRA_SCRIPT = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = period / limit
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, 0, math.ceil(tat - now), math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%d', math.ceil(new_tat)),
  'PX', math.ceil((new_tat - now) / 1000) + 1)
local remaining = math.floor((period - (new_tat - now)) / interval + 0.000001)
return {1, remaining, math.ceil(new_tat - now), 0}
"""

_MICROS = 1_000_000


class RedisRateLimitBackend:
    """Shared token buckets in Redis; if Redis fails, requests are let through (logged)."""

    name = "ratelimit-redis"

    def __init__(self, url: str, *, prefix: str = "slipway:ratelimit:") -> None:
        self.url = url
        self.prefix = prefix
        self._redis: Redis | None = None

    async def start(self) -> None:
        """Create the client (connections open lazily)."""
        self._redis = Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script = self._redis.register_script(GCRA_SCRIPT)

    async def stop(self) -> None:
        """Close the client's connections."""
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> RateLimitDecision:
        """Take one token for `key`, atomically across every instance."""
        if self._redis is None:
            raise RuntimeError("RedisRateLimitBackend used before start()")
        period = int(window_seconds * _MICROS)
        try:
            allowed, remaining, reset_us, retry_us = await self._script(
                keys=[self.prefix + key], args=[limit, period]
            )
        except Exception:
            logger.warning("rate limit backend unavailable; allowing request", exc_info=True)
            return RateLimitDecision(True, limit, limit, 0.0, 0.0)
        return RateLimitDecision(
            allowed=bool(allowed),
            limit=limit,
            remaining=int(remaining),
            reset_seconds=int(reset_us) / _MICROS,
            retry_after_seconds=int(retry_us) / _MICROS,
        )
