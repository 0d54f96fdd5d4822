"""Fixtures: the machine's Redis under a throwaway key prefix, and both stream backends."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from slipway.cache import RedisClient, RedisSettings
from slipway.cache.testing import PrivateRedisServer, started_redis_client
from slipway.db import Database, DatabaseSettings
from slipway.db.testing import postgres_test_url, postgres_unreachable_reason, require_server
from slipway.events.fanout_settings import FanoutSettings
from slipway.events.hub import StreamHub
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.outbox import Outbox
from slipway.events.ports import MultiplexedEventStream
from slipway.events.redis_stream import RedisEventStream
from slipway.events.table import outbox_table

# redis_url, redis_settings, redis_client, private_redis_server: slipway.cache's plugin.
pytest_plugins = ["slipway.cache.testing"]


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh metrics registry per test."""
    return CollectorRegistry()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def stream(
    request: pytest.FixtureRequest,
) -> AsyncIterator[InMemoryEventStream | RedisEventStream]:
    """Each backend in turn: the contract tests run on both."""
    if request.param == "memory":
        yield InMemoryEventStream(maxlen=1_000)
        return
    settings: RedisSettings = request.getfixturevalue("redis_settings")
    async with started_redis_client(settings) as client:
        yield RedisEventStream(client, maxlen=1_000)


# -- the outbox on SQLite and PostgreSQL (test_outbox*, test_relay*) ------------------------


@dataclass(frozen=True)
class OutboxDatabase:
    """A started Database with an outbox table (and NOTIFY channel) of this test's own."""

    database: Database
    outbox: Outbox
    settings: DatabaseSettings

    def instance(self, name: str) -> Database:
        """Another Database on the same server: a second service instance (not started)."""
        return Database(self.settings, name=name, registry=CollectorRegistry())

    def writer(self) -> Outbox:
        """The same outbox table and channel with a commit signal of its own: as another
        process writes, whose commits wake this process's relays only through NOTIFY."""
        return Outbox(self.outbox.table, channel=self.outbox.channel)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test PostgreSQL (db `test`); skips (fails when CI is set) if it is unreachable."""
    url = postgres_test_url()
    require_server(postgres_unreachable_reason(url))
    return url


@asynccontextmanager
async def _outbox_database(url: str) -> AsyncIterator[OutboxDatabase]:
    name = f"outbox_test_{uuid.uuid4().hex[:16]}"
    metadata = sa.MetaData()
    table = outbox_table(metadata, name)
    settings = DatabaseSettings(url=SecretStr(url))
    async with Database(settings, registry=CollectorRegistry()) as database:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        try:
            yield OutboxDatabase(database, Outbox(table, channel=name), settings)
        finally:
            async with database.engine.begin() as connection:
                await connection.run_sync(metadata.drop_all)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
async def outbox_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[OutboxDatabase]:
    """Each backend in turn; on PostgreSQL a uniquely named table and channel, dropped after."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}"
    async with _outbox_database(url) as found:
        yield found


@pytest.fixture
async def postgres_outbox_database(postgres_url: str) -> AsyncIterator[OutboxDatabase]:
    """The outbox on PostgreSQL only (LISTEN/NOTIFY, advisory locks)."""
    async with _outbox_database(postgres_url) as found:
        yield found


# -- fan-out (StreamHub) fixtures ------------------------------------------------------------

MakeHub = Callable[..., Awaitable[StreamHub]]


@pytest.fixture
async def make_hub(registry: CollectorRegistry) -> AsyncIterator[MakeHub]:
    """Builds started hubs (`await make_hub(stream, per_principal=3)`); stops them afterwards."""
    hubs: list[StreamHub] = []

    async def make(stream: MultiplexedEventStream, **settings: Any) -> StreamHub:
        hub = StreamHub(stream, FanoutSettings(**settings), registry=registry)
        await hub.start()
        hubs.append(hub)
        return hub

    yield make
    for hub in reversed(hubs):
        await hub.stop()


@pytest.fixture
async def private_redis_client(
    private_redis_server: PrivateRedisServer,
) -> AsyncIterator[RedisClient]:
    """A started client of the test's own redis-server (which the test may stop and restart)."""
    client = RedisClient(RedisSettings(url=SecretStr(private_redis_server.url)))
    await client.start()
    try:
        yield client
    finally:
        await client.stop()
