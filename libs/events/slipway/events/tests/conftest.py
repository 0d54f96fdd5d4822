"""Fixtures: the machine's Redis under a throwaway key prefix, and both stream backends."""

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from slipway.cache import RedisClient, RedisSettings
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.redis_stream import RedisEventStream

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


@asynccontextmanager
async def _started_client(settings: RedisSettings) -> AsyncIterator[RedisClient]:
    client = RedisClient(settings)
    await client.start()
    try:
        yield client
    finally:
        keys = [key async for key in client.redis.scan_iter(match=client.key("*"))]
        if keys:
            await client.redis.delete(*keys)
        await client.stop()


@pytest.fixture
async def redis_client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A started client; every key under its prefix is deleted afterwards."""
    async with _started_client(redis_settings) as client:
        yield client


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def stream(
    request: pytest.FixtureRequest,
) -> AsyncIterator[InMemoryEventStream | RedisEventStream]:
    """Each backend in turn: the contract tests run on both."""
    if request.param == "memory":
        yield InMemoryEventStream(maxlen=1_000)
        return
    settings: RedisSettings = request.getfixturevalue("redis_settings")
    async with _started_client(settings) as client:
        yield RedisEventStream(client, maxlen=1_000)
