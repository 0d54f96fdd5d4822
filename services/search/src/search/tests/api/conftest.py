"""Fixtures of the API tests: the whole app on a SQLite file, real tokens, and the index.

The app is the service's own (`build_app`), with indexing off (no contexts to follow here);
`app_index` writes to the same database file the app serves from, as the indexer would.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from search.adapters.indexing import IndexingSettings
from search.adapters.sql import SqlSearchIndex
from search.settings import Settings
from search.tests.builders import bearer
from slipway.config import Environment
from slipway.db import Database, DatabaseSettings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The service's settings on a SQLite file in the test's directory, not following contexts."""
    return Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")),
        redis=None,
        indexing=IndexingSettings(enabled=False),
    )


@pytest.fixture
def fuzz_headers() -> dict[str, str]:
    """ContractSuite's fuzzing sends a token with contexts:read, so requests get past 401."""
    return bearer("fuzzer")


@pytest.fixture
async def app_index(client: httpx.AsyncClient, settings: Settings) -> AsyncIterator[SqlSearchIndex]:
    """The index in the running app's database (migrated by the app's start-up)."""
    async with Database(settings.database, registry=CollectorRegistry()) as database:
        yield SqlSearchIndex(database)
