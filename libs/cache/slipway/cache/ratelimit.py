"""Token buckets (GCRA) in the service's Redis, one atomic Lua script: instances share a limit.

Pass `RedisRateLimitBackend(redis)` as `ServiceParts.rate_limit_backend`, with `redis` (the
service's one `RedisClient`) among its resources: the limiter has no Redis settings of its own.
"""

import logging
from typing import Final

from redis.exceptions import RedisError

from slipway.cache.client import RedisClient
from slipway.web.ratelimit import RateLimitDecision

logger = logging.getLogger("slipway.cache.ratelimit")

# KEYS[1] bucket key; ARGV[1] limit; ARGV[2] period in microseconds.
# Returns {allowed, remaining, reset_us, retry_after_us}. Redis' clock is the one clock, so
# instances with skewed clocks still agree. Values are kept as integer microseconds and
# written with %d: Lua 5.1's tostring would round them to 14 significant digits.
GCRA_SCRIPT: Final = """
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
BACKEND_ERRORS = (RedisError, OSError, TimeoutError)


class RedisRateLimitBackend:
    """Shared token buckets under `<key prefix><namespace>:`; if Redis fails, requests pass."""

    def __init__(self, client: RedisClient, *, namespace: str = "ratelimit") -> None:
        self.client = client
        self.namespace = namespace
        # EVALSHA, loading the script once per server; `client=` below follows RedisClient.stop(),
        # which replaces `client.redis`.
        self._script = client.redis.register_script(GCRA_SCRIPT)

    def bucket_key(self, key: str) -> str:
        """The Redis key of `key`'s bucket, under the client's key prefix."""
        return self.client.key(self.namespace, key)

    async def hit(self, key: str, *, limit: int, window_seconds: float) -> RateLimitDecision:
        """Take one token for `key`, atomically across every instance."""
        period = int(window_seconds * _MICROS)
        try:
            reply = await self._script(
                keys=[self.bucket_key(key)], args=[limit, period], client=self.client.redis
            )
        except BACKEND_ERRORS:
            # Failing open: an outage of the limiter's store must not become an outage of the API.
            logger.warning("rate limit backend unavailable; allowing request", exc_info=True)
            return RateLimitDecision(True, limit, limit, 0.0, 0.0)
        allowed, remaining, reset_us, retry_us = reply
        return RateLimitDecision(
            allowed=bool(allowed),
            limit=limit,
            remaining=int(remaining),
            reset_seconds=int(reset_us) / _MICROS,
            retry_after_seconds=int(retry_us) / _MICROS,
        )
