"""Concurrent writes to one context over a real server (uvicorn, the whole service, SQLite).

The scenarios are put_concurrency_support.py's: a PUT or PATCH without `If-Match` is a replace
or a merge on whatever is current, every one of many at once succeeds with its own version;
`If-Match` has one winner, `If-None-Match: *` one 201. tests/integration/
test_put_concurrency_on_postgres.py runs the same scenarios on PostgreSQL.
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from contexts.tests.api.put_concurrency_support import SCENARIOS, Server, served

pytestmark = pytest.mark.slow


@pytest.fixture
async def sqlite_server(tmp_path: Path) -> AsyncIterator[Server]:
    async with served(f"sqlite+aiosqlite:///{tmp_path / 'concurrency.db'}") as server:
        yield server


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
async def test_concurrent_writes_on_sqlite(sqlite_server: Server, scenario: Any) -> None:
    await scenario(sqlite_server)
