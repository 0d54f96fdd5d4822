"""Redis for Slipway services: a pooled client resource and a single-flight read-through cache."""

from slipway.cache.client import RedisClient, RedisReadiness
from slipway.cache.metrics import CacheMetrics, cache_metrics
from slipway.cache.ratelimit import RedisRateLimitBackend
from slipway.cache.read_through import ReadThroughCache
from slipway.cache.settings import RedisSettings

__all__ = [
    "CacheMetrics",
    "ReadThroughCache",
    "RedisClient",
    "RedisRateLimitBackend",
    "RedisReadiness",
    "RedisSettings",
    "cache_metrics",
]
