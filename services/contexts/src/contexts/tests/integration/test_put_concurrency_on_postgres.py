"""Concurrent writes to one context on the real PostgreSQL, over a real server (uvicorn).

The scenarios of tests/api/put_concurrency_support.py, as on SQLite: plain PUT and PATCH all
succeed with contiguous versions and one audit entry and outbox event each, `If-Match` has
exactly one winner (the rest 412), `If-None-Match: *` exactly one 201. On PostgreSQL a losing
INSERT waits for the winner's transaction, then fails on the primary key: the service must
retry it.
"""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from contexts.tests.api.put_concurrency_support import SCENARIOS, Server, served
from contexts.tests.integration.sql_support import postgres_admin_url
from slipway.db.testing import throwaway_postgres_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
async def postgres_server() -> AsyncIterator[Server]:
    """The whole service on a throwaway PostgreSQL database (migrated at start-up)."""
    async with (
        throwaway_postgres_database(postgres_admin_url()) as database,
        served(database.url.render_as_string(hide_password=False)) as server,
    ):
        yield server


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
async def test_concurrent_writes_on_postgres(postgres_server: Server, scenario: Any) -> None:
    await scenario(postgres_server)
