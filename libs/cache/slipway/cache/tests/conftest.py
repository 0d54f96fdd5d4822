"""Fixtures for the slipway.cache tests: the slipway.cache.testing plugin's, and two more."""

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from slipway.cache import RedisClient, RedisSettings
from slipway.cache.testing import started_redis_client

# redis_url, redis_settings, redis_client, private_redis_server: the plugin the libs ship.
pytest_plugins = ["slipway.cache.testing"]


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh metrics registry per test."""
    return CollectorRegistry()


@pytest.fixture
async def client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A started client; every key under its prefix is deleted afterwards."""
    async with started_redis_client(redis_settings) as redis_client:
        yield redis_client
