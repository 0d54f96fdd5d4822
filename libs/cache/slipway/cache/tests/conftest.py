"""Fixtures for the slipway.cache tests: the machine's Redis, under a throwaway key prefix."""

import os
import socket
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from slipway.cache import RedisClient, RedisSettings

REDIS_URL = os.environ.get("SLIPWAY_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def _redis_reachable() -> bool:
    url = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), 0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL; skips (fails when CI is set) if Redis is unreachable."""
    if not _redis_reachable():
        reason = f"Redis is not reachable at {REDIS_URL}; set SLIPWAY_TEST_REDIS_URL"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required when CI is set)")
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh metrics registry per test."""
    return CollectorRegistry()


@pytest.fixture
def redis_settings(redis_url: str) -> RedisSettings:
    """Settings for the test Redis with a key prefix of this test's own."""
    return RedisSettings(url=SecretStr(redis_url), key_prefix=f"slipway-test:{uuid.uuid4().hex}:")


@pytest.fixture
async def client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A started client; every key under its prefix is deleted afterwards."""
    redis_client = RedisClient(redis_settings)
    await redis_client.start()
    yield redis_client
    keys = [key async for key in redis_client.redis.scan_iter(match=redis_client.key("*"))]
    if keys:
        await redis_client.redis.delete(*keys)
    await redis_client.stop()
