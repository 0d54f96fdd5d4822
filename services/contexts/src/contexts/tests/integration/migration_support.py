"""What the migration tests share: both backends, a database at a revision, the old tables."""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from contexts.adapters.sql.tables import Json
from contexts.migrations import MIGRATIONS_DIR
from contexts.tests.integration.sql_support import postgres_admin_url
from slipway.db import Database, UtcDateTime
from slipway.db.migrations import upgrade
from slipway.db.testing import throwaway_postgres_database, throwaway_sqlite_database

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.integration),
]


@asynccontextmanager
async def database_at(backend: str, directory: Path, revision: str) -> AsyncIterator[Database]:
    """A throwaway database (SQLite in `directory`, or PostgreSQL) migrated to `revision`."""
    context: AbstractAsyncContextManager[Database]
    if backend == "sqlite":
        context = throwaway_sqlite_database(directory)
    else:
        context = throwaway_postgres_database(postgres_admin_url())
    async with context as database:
        await upgrade(database.url, MIGRATIONS_DIR, revision)
        yield database


# The outbox as revisions 0001 and 0002 made it (0003 replaces it with slipway_outbox).
old_outbox = sa.table(
    "outbox",
    sa.column("position", sa.Integer()),
    sa.column("namespace", sa.String()),
    sa.column("name", sa.String()),
    sa.column("version", sa.Integer()),
    sa.column("payload", Json),
    sa.column("created_at", UtcDateTime()),
    sa.column("published_at", UtcDateTime()),
)

# The stored responses as revisions 0001 to 0003 made them (0004 replaces them with
# slipway_idempotency).
old_idempotency_keys = sa.table(
    "idempotency_keys",
    sa.column("key", sa.String()),
    sa.column("subject", sa.String()),
    sa.column("request_hash", sa.String()),
    sa.column("status", sa.Integer()),
    sa.column("headers", Json),
    sa.column("body", sa.Text()),
    sa.column("created_at", UtcDateTime()),
    sa.column("expires_at", UtcDateTime()),
)
