"""Fixtures for the service's tests: settings, the app and an httpx client talking to it."""

import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from contexts.main import build_app
from contexts.migrations import MIGRATIONS_DIR
from contexts.settings import Settings
from slipway.cache import RedisClient, RedisSettings
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.web.testing import app_client

# The throwaway databases (postgres_database, sqlite_database) of slipway.db.testing.
pytest_plugins = ["slipway.db.testing"]

REDIS_URL = os.environ.get("SLIPWAY_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for tests: in-memory adapters, a SQLite file in the test's directory."""
    return Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")),
        redis=None,
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The service's app, built as in production."""
    return build_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app through ASGITransport, lifespan running."""
    async with app_client(app) as http:
        yield http


@pytest.fixture
def db_migrations_dir() -> Path:
    """The throwaway databases get the service's own migrations."""
    return MIGRATIONS_DIR


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL; skips (fails when CI is set) if Redis is unreachable."""
    url = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), 0.5):
            return REDIS_URL
    except OSError:
        reason = f"Redis is not reachable at {REDIS_URL}; set SLIPWAY_TEST_REDIS_URL"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required when CI is set)")
        pytest.skip(reason)


@pytest.fixture
def redis_settings(redis_url: str) -> RedisSettings:
    """Settings for the test Redis, under a key prefix of this test's own."""
    prefix = f"contexts-test:{uuid.uuid4().hex}:"
    return RedisSettings(url=SecretStr(redis_url), key_prefix=prefix)


@pytest.fixture
async def redis_client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A started client; every key under its prefix is deleted afterwards."""
    client = RedisClient(redis_settings)
    await client.start()
    yield client
    keys = [key async for key in client.redis.scan_iter(match=client.key("*"))]
    if keys:
        await client.redis.delete(*keys)
    await client.stop()
