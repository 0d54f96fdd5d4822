"""Rate limiting: token buckets in memory or shared through Redis, and the middleware."""

from slipway.web.ratelimit.base import RateLimitBackend, RateLimitDecision
from slipway.web.ratelimit.memory_backend import MemoryRateLimitBackend
from slipway.web.ratelimit.middleware import (
    KeyFunc,
    RateLimitMiddleware,
    principal_or_client_ip,
    rate_limit_headers,
)
from slipway.web.ratelimit.redis_backend import RedisRateLimitBackend

__all__ = [
    "KeyFunc",
    "MemoryRateLimitBackend",
    "RateLimitBackend",
    "RateLimitDecision",
    "RateLimitMiddleware",
    "RedisRateLimitBackend",
    "principal_or_client_ip",
    "rate_limit_headers",
]
