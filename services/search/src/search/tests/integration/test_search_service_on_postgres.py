"""The service as production composes it: PostgreSQL (migrated at start-up) and Redis."""

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from search.adapters.indexing import IndexingSettings
from search.adapters.sql import SqlSearchIndex
from search.domain.model import SearchQuery
from search.main import service
from search.migrations import MIGRATIONS_DIR
from search.settings import Settings
from search.tests.builders import ROOT, bearer, indexed
from slipway.cache import RedisSettings
from slipway.config import Environment
from slipway.db import Database, DatabaseSettings
from slipway.db.migrations import current_revision, downgrade, upgrade
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database
from slipway.web.testing import app_client


@pytest.mark.integration
async def test_search_on_postgres_and_redis(
    postgres_url: str, redis_settings: RedisSettings
) -> None:
    async with throwaway_postgres_database(postgres_url) as empty:
        url = SecretStr(empty.url.render_as_string(hide_password=False))
        settings = Settings(
            environment=Environment.TEST,
            database=DatabaseSettings(url=url),
            redis=redis_settings,
            indexing=IndexingSettings(enabled=False),
        )
        async with app_client(service.build_app(settings)) as client:
            ready = await client.get("/ready")
            async with Database(settings.database, registry=CollectorRegistry()) as database:
                await SqlSearchIndex(database).put(indexed("runbook", "roll back a release"))
            found = await client.get("/v1/search", params={"q": "release"}, headers=bearer("bob"))

    assert ready.status_code == 200, ready.text
    assert [hit["name"] for hit in found.json()["items"]] == ["runbook"]
    assert "<mark>release</mark>" in found.json()["items"][0]["snippet"]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
async def test_the_migrations_go_down_and_up_again(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        throwaway = throwaway_sqlite_database(tmp_path, migrations_dir=MIGRATIONS_DIR)
    else:
        postgres_url = request.getfixturevalue("postgres_url")
        throwaway = throwaway_postgres_database(postgres_url, migrations_dir=MIGRATIONS_DIR)
    async with throwaway as database:
        head = await current_revision(database.url, MIGRATIONS_DIR)
        await downgrade(database.url, MIGRATIONS_DIR, "base")
        assert await current_revision(database.url, MIGRATIONS_DIR) is None
        await upgrade(database.url, MIGRATIONS_DIR)
        index = SqlSearchIndex(database)
        await index.put(indexed("runbook", "still searchable"))

        assert await current_revision(database.url, MIGRATIONS_DIR) == head
        page = await index.search(SearchQuery(text="searchable"), ROOT)
        assert [hit.ref.name for hit in page.hits] == ["runbook"]
