"""Alembic environment: online through an async engine, or offline SQL under --sql."""

from search.adapters.sql import metadata
from slipway.db.migrations import run_migrations

run_migrations(target_metadata=metadata)
