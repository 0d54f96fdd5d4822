"""`index`: the SQL search index on SQLite and on the real PostgreSQL (marked integration)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from search.adapters.sql import SqlSearchIndex
from search.migrations import MIGRATIONS_DIR
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqlSearchIndex]:
    """A migrated throwaway database of the backend, as the index."""
    if request.param == "sqlite":
        async with throwaway_sqlite_database(tmp_path, migrations_dir=MIGRATIONS_DIR) as database:
            yield SqlSearchIndex(database)
    else:
        url = request.getfixturevalue("postgres_url")
        async with throwaway_postgres_database(url, migrations_dir=MIGRATIONS_DIR) as database:
            yield SqlSearchIndex(database)
