"""The service under test and its test settings (`app`, `client`: slipway.web.testing)."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from search.main import service as this_service
from search.migrations import MIGRATIONS_DIR
from search.settings import Settings
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.web import Service

# The libs' fixtures: app and client, throwaway databases, Redis under a test prefix.
pytest_plugins = ["slipway.web.testing", "slipway.cache.testing", "slipway.db.testing"]


@pytest.fixture
def service() -> Service[Settings]:
    """The service under test."""
    return this_service


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for tests: in-memory adapters, a SQLite file in the test's directory."""
    return Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")),
        redis=None,
    )


@pytest.fixture
def db_migrations_dir() -> Path:
    """The throwaway databases get the service's own migrations."""
    return MIGRATIONS_DIR
