"""Fixtures for the service's tests: settings, the app and an httpx client talking to it."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from contexts.main import build_app
from contexts.migrations import MIGRATIONS_DIR
from contexts.settings import Settings
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.web.testing import app_client

# Fixtures of the libs: throwaway databases (slipway.db), Redis under a test prefix (slipway.cache).
pytest_plugins = ["slipway.cache.testing", "slipway.db.testing"]


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
