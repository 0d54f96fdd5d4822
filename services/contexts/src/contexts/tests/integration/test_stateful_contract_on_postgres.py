"""Stateful schemathesis on the whole service on a throwaway PostgreSQL database.

The run of tests/api/test_stateful_contract.py (see stateful_support.py), on PostgreSQL: what
only PostgreSQL refuses or changes (NUL in text, numbers jsonb rewrites) shows up here.
"""

from collections.abc import AsyncIterator

import pytest

from contexts.tests.api.stateful_support import run_contexts_statefully
from contexts.tests.integration.sql_support import postgres_admin_url
from slipway.db.testing import throwaway_postgres_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def postgres_database_url() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database (the app migrates it), dropped after."""
    async with throwaway_postgres_database(postgres_admin_url()) as database:
        yield database.url.render_as_string(hide_password=False)


@pytest.mark.slow
def test_stateful_run_on_postgres_finds_nothing_unexpected(postgres_database_url: str) -> None:
    run_contexts_statefully(postgres_database_url)
