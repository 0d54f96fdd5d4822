"""Fixtures for the slipway.db tests: the throwaway databases of slipway.db.testing."""

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from slipway.db import Database

# Used as a service would: its postgres_url, postgres_database and sqlite_database fixtures.
pytest_plugins = ["slipway.db.testing"]

SAMPLE_MIGRATIONS = Path(__file__).parent / "sample_migrations"


@pytest.fixture
def db_migrations_dir() -> Path:
    """The tests' databases get the sample migrations (the notes table)."""
    return SAMPLE_MIGRATIONS


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh metrics registry per test."""
    return CollectorRegistry()


@pytest.fixture(
    params=["sqlite_database", pytest.param("postgres_database", marks=pytest.mark.integration)],
    ids=["sqlite", "postgres"],
)
def database(request: pytest.FixtureRequest) -> Database:
    """A migrated throwaway database: a SQLite file, then one on the real PostgreSQL."""
    found: Database = request.getfixturevalue(request.param)
    return found
