"""Alembic environment of the sample migrations the slipway.db tests run."""

from slipway.db.migrations import run_migrations

run_migrations(target_metadata=None)
