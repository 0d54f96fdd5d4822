"""Migrations at start-up, as a slipway.web resource."""

from search.migrations import MIGRATIONS_DIR
from slipway.db import Database
from slipway.db.migrations import upgrade


class MigrateOnStartup:
    """A slipway.web resource that migrates the database to the newest revision at start-up."""

    name = "migrations"

    def __init__(self, database: Database) -> None:
        self._database = database

    async def start(self) -> None:
        """Run the Alembic migrations up to head."""
        await upgrade(self._database.url, MIGRATIONS_DIR)

    async def stop(self) -> None:
        """Nothing to close."""
