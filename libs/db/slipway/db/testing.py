"""Throwaway databases for tests, migrated and dropped afterwards.

In a service's conftest.py::

    pytest_plugins = ["slipway.db.testing"]


    @pytest.fixture
    def db_migrations_dir() -> Path:
        return Path(__file__).parents[1] / "migrations"

then ask for `postgres_database` (a fresh database on the real PostgreSQL, marked
`integration`) or `sqlite_database` (a temporary file). PostgreSQL comes from
`SLIPWAY_TEST_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/test`, a role
allowed to create databases); when it is unreachable the tests skip, or fail when `CI` is set.
"""

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from slipway.db.database import Database
from slipway.db.migrations import upgrade
from slipway.db.settings import DatabaseSettings, async_url

POSTGRES_URL_ENV = "SLIPWAY_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
THROWAWAY_PREFIX = "slipway_test_"


def postgres_test_url() -> str:
    """The maintenance database URL the throwaway databases are created from."""
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


def postgres_unreachable_reason(url: str, timeout_seconds: float = 1.0) -> str | None:
    """Why no PostgreSQL server listens at `url`'s host and port, or None if one does."""
    parsed = make_url(url)
    host, port = parsed.host or "127.0.0.1", parsed.port or 5432
    try:
        with socket.create_connection((host, port), timeout=timeout_seconds):
            return None
    except OSError as exc:
        shown = parsed.render_as_string(hide_password=True)
        return f"PostgreSQL is not reachable at {shown} ({exc}); set {POSTGRES_URL_ENV}"


def require_server(reason: str | None) -> None:
    """Skip the test when `reason` says a server is missing; fail instead when CI is set."""
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


async def execute_outside_transaction(url: str | URL, statement: str) -> None:
    """Run one statement in autocommit mode (CREATE/DROP DATABASE refuse a transaction)."""
    engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _test_database(url: URL, settings: DatabaseSettings | None) -> Database:
    base = settings or DatabaseSettings()
    secret = SecretStr(url.render_as_string(hide_password=False))
    return Database(base.model_copy(update={"url": secret}), registry=CollectorRegistry())


@asynccontextmanager
async def throwaway_postgres_database(
    admin_url: str,
    *,
    migrations_dir: str | Path | None = None,
    settings: DatabaseSettings | None = None,
) -> AsyncIterator[Database]:
    """A started Database on a new `slipway_test_<uuid>` database, dropped on exit."""
    admin = async_url(admin_url)
    name = f"{THROWAWAY_PREFIX}{uuid.uuid4().hex}"
    await execute_outside_transaction(admin, f'CREATE DATABASE "{name}"')
    try:
        url = admin.set(database=name)
        if migrations_dir is not None:
            await upgrade(url, migrations_dir)
        async with _test_database(url, settings) as database:
            yield database
    finally:
        await execute_outside_transaction(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _delete_sqlite_files(path: Path) -> None:
    for leftover in path.parent.glob(path.name + "*"):  # the -wal and -shm files too
        leftover.unlink()


@asynccontextmanager
async def throwaway_sqlite_database(
    directory: Path,
    *,
    migrations_dir: str | Path | None = None,
    settings: DatabaseSettings | None = None,
) -> AsyncIterator[Database]:
    """A started Database on a new SQLite file in `directory`, deleted on exit."""
    path = directory / f"{THROWAWAY_PREFIX}{uuid.uuid4().hex}.db"
    url = URL.create("sqlite+aiosqlite", database=str(path))
    try:
        if migrations_dir is not None:
            await upgrade(url, migrations_dir)
        async with _test_database(url, settings) as database:
            yield database
    finally:
        _delete_sqlite_files(path)


@pytest.fixture
def db_migrations_dir() -> Path | None:
    """The migrations the throwaway databases get; override it in the service's conftest."""
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The maintenance PostgreSQL URL; skips (fails when CI is set) if it is unreachable."""
    url = postgres_test_url()
    require_server(postgres_unreachable_reason(url))
    return url


@pytest_asyncio.fixture
async def postgres_database(
    postgres_url: str, db_migrations_dir: Path | None
) -> AsyncIterator[Database]:
    """A migrated throwaway database on the real PostgreSQL, dropped after the test."""
    async with throwaway_postgres_database(
        postgres_url, migrations_dir=db_migrations_dir
    ) as database:
        yield database


@pytest_asyncio.fixture
async def sqlite_database(
    tmp_path: Path, db_migrations_dir: Path | None
) -> AsyncIterator[Database]:
    """A migrated throwaway SQLite database in the test's temporary directory."""
    async with throwaway_sqlite_database(tmp_path, migrations_dir=db_migrations_dir) as database:
        yield database
