"""The `served` fixture of the MCP tests: `harness.serve`'s app, until the test ends."""

from collections.abc import AsyncIterator

import pytest

from contexts.settings import Settings
from contexts.tests.mcp.harness import Served, serve


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    """The app on uvicorn, until the test ends."""
    async with serve(settings) as served:
        yield served
