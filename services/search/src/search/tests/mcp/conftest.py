"""The whole app on uvicorn (the SDK's client speaks real HTTP), its index, and tokens."""

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from search.adapters.indexing import IndexingSettings
from search.adapters.sql import SqlSearchIndex
from search.main import service
from search.settings import Settings
from slipway.config import Environment
from slipway.db import Database, DatabaseSettings
from slipway.web import WebSettings
from slipway.web.testing.server import serving

TIMEOUT = 10.0


@dataclass
class Served:
    """The running app: its base URL and the index it serves."""

    base_url: str
    index: SqlSearchIndex

    @property
    def mcp_url(self) -> str:
        return f"{self.base_url}/mcp"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The service's app on a free port of 127.0.0.1 until the test ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    database = DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'mcp.db'}"))
    settings = Settings(
        environment=Environment.TEST,
        web=WebSettings(port=port),
        database=database,
        redis=None,
        indexing=IndexingSettings(enabled=False),
    )
    app = service.build_app(settings)
    async with (
        serving(app, sock=sock, started_within=TIMEOUT, stopped_within=TIMEOUT) as running,
        Database(database, registry=CollectorRegistry()) as db,
    ):
        yield Served(running.url, SqlSearchIndex(db))
