"""The relay into real Redis Streams, through a Redis outage on a private redis-server."""

import asyncio
import time

import pytest
from prometheus_client import CollectorRegistry

from slipway.cache import RedisClient
from slipway.cache.testing import PrivateRedisServer
from slipway.events import Event, OutboxRelay, OutboxSettings, RedisEventStream
from slipway.events.tests.conftest import OutboxDatabase

pytestmark = pytest.mark.integration

SETTINGS = OutboxSettings(
    poll_interval_seconds=30, retry_base_seconds=0.05, max_backoff_seconds=0.3
)


async def _numbers(stream: RedisEventStream) -> list[int]:
    entries = await stream.read("orders", after=None, limit=1_000, block_ms=0)
    return [int(entry.event.payload["n"]) for entry in entries]


async def _write(odb: OutboxDatabase, *numbers: int) -> list[Event]:
    events = [Event(stream="orders", type="order.placed", payload={"n": n}) for n in numbers]
    async with odb.database.unit_of_work() as uow:
        await odb.outbox.add(uow.session, *events)
    return events


async def _eventually(stream: RedisEventStream, expected: list[int], within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if await _numbers(stream) == expected:
                return
        except ConnectionError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"Redis did not get {expected} within {within}s")
        await asyncio.sleep(0.05)


async def test_events_reach_redis_streams_with_their_ids_in_commit_order(
    outbox_database: OutboxDatabase, private_redis_client: RedisClient
) -> None:
    stream = RedisEventStream(private_redis_client)
    relay = OutboxRelay(
        outbox_database.database,
        outbox_database.outbox,
        stream,
        settings=SETTINGS,
        registry=CollectorRegistry(),
    )
    await relay.start()
    try:
        written = await _write(outbox_database, 1, 2) + await _write(outbox_database, 3)
        await _eventually(stream, [1, 2, 3], 5)
    finally:
        await relay.stop()
    entries = await stream.read("orders", after=None, limit=10, block_ms=0)
    assert [entry.event.id for entry in entries] == [event.id for event in written]


async def test_a_redis_outage_loses_no_event(
    outbox_database: OutboxDatabase,
    private_redis_client: RedisClient,
    private_redis_server: PrivateRedisServer,
) -> None:
    stream = RedisEventStream(private_redis_client)
    registry = CollectorRegistry()
    relay = OutboxRelay(
        outbox_database.database,
        outbox_database.outbox,
        stream,
        settings=SETTINGS,
        registry=registry,
    )
    await relay.start()
    try:
        await _write(outbox_database, 1)
        await _eventually(stream, [1], 5)
        private_redis_server.stop()  # its data goes with it: only new events are expected
        await _write(outbox_database, 2)
        await _write(outbox_database, 3, 4)
        deadline = time.monotonic() + 5
        while relay.status().consecutive_failures < 2:
            assert time.monotonic() < deadline, "the relay did not notice the outage"
            await asyncio.sleep(0.05)
        assert registry.get_sample_value("outbox_relay_up", {"relay": "outbox-relay"}) == 0
        assert relay.status().pending == 3
        private_redis_server.start()
        await _eventually(stream, [2, 3, 4], 10)
    finally:
        await relay.stop()
    async with outbox_database.database.engine.connect() as connection:
        assert (await outbox_database.outbox.backlog(connection)).count == 0
