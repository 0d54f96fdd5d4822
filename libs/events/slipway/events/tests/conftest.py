"""Fixtures: the machine's Redis under a throwaway key prefix, and both stream backends."""

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from slipway.cache import RedisClient, RedisSettings
from slipway.db import Database, DatabaseSettings
from slipway.db.testing import postgres_test_url, postgres_unreachable_reason, require_server
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.outbox import Outbox
from slipway.events.redis_stream import RedisEventStream
from slipway.events.table import outbox_table

REDIS_URL = os.environ.get("SLIPWAY_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def _redis_reachable() -> bool:
    url = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), 0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The test Redis URL; skips (fails when CI is set) if Redis is unreachable."""
    if not _redis_reachable():
        reason = f"Redis is not reachable at {REDIS_URL}; set SLIPWAY_TEST_REDIS_URL"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required when CI is set)")
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh metrics registry per test."""
    return CollectorRegistry()


@pytest.fixture
def redis_settings(redis_url: str) -> RedisSettings:
    """Settings for the test Redis with a key prefix of this test's own."""
    return RedisSettings(url=SecretStr(redis_url), key_prefix=f"slipway-test:{uuid.uuid4().hex}:")


@asynccontextmanager
async def _started_client(settings: RedisSettings) -> AsyncIterator[RedisClient]:
    client = RedisClient(settings)
    await client.start()
    try:
        yield client
    finally:
        keys = [key async for key in client.redis.scan_iter(match=client.key("*"))]
        if keys:
            await client.redis.delete(*keys)
        await client.stop()


@pytest.fixture
async def redis_client(redis_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    """A started client; every key under its prefix is deleted afterwards."""
    async with _started_client(redis_settings) as client:
        yield client


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def stream(
    request: pytest.FixtureRequest,
) -> AsyncIterator[InMemoryEventStream | RedisEventStream]:
    """Each backend in turn: the contract tests run on both."""
    if request.param == "memory":
        yield InMemoryEventStream(maxlen=1_000)
        return
    settings: RedisSettings = request.getfixturevalue("redis_settings")
    async with _started_client(settings) as client:
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

from collections.abc import Awaitable, Callable  # noqa: E402
from typing import Any  # noqa: E402

from slipway.cache.testing import private_redis_server  # noqa: E402, F401 - a fixture
from slipway.events.fanout_settings import FanoutSettings  # noqa: E402
from slipway.events.hub import StreamHub  # noqa: E402
from slipway.events.ports import MultiplexedEventStream  # noqa: E402

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
