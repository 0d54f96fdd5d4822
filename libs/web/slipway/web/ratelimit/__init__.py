"""Rate limiting: the backend protocol, in-memory token buckets, and the middleware.

The Redis backend, shared by every instance, is `slipway.cache.ratelimit`.
"""

from slipway.web.ratelimit.base import RateLimitBackend, RateLimitDecision
from slipway.web.ratelimit.memory_backend import MemoryRateLimitBackend
from slipway.web.ratelimit.middleware import (
    KeyFunc,
    RateLimitMiddleware,
    principal_or_client_ip,
    rate_limit_headers,
)

__all__ = [
    "KeyFunc",
    "MemoryRateLimitBackend",
    "RateLimitBackend",
    "RateLimitDecision",
    "RateLimitMiddleware",
    "principal_or_client_ip",
    "rate_limit_headers",
]
