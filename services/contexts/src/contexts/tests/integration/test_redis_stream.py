"""RedisEventStream on a real Redis (SLIPWAY_TEST_REDIS_URL, default 127.0.0.1:6379), each
test under its own key prefix; and the outbox relay through a Redis outage, on a private
redis-server this test starts and kills (the shared Redis is never touched)."""

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from contexts.adapters.redis_stream import EVENT_FIELD, RedisEventStream
from contexts.domain.events import ChangeAction, ContextChanged
from contexts.domain.relay import PendingEvent, StreamEntry
from contexts.events.consumer import ContextEventsConsumer
from contexts.events.relay import OutboxRelay
from contexts.tests.integration.redis_server import PrivateRedis, reachable
from slipway.cache import RedisClient, RedisSettings

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("SLIPWAY_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def changed(name: str, version: int = 1, namespace: str = "ns") -> ContextChanged:
    return ContextChanged(
        event_id=uuid.uuid4(),
        namespace=namespace,
        name=name,
        version=version,
        action=ChangeAction.CREATED if version == 1 else ChangeAction.UPDATED,
        etag=f'"{name}-{version}"',
        occurred_at=datetime.now(UTC),
        actor="subject:test",
    )


def names(entries: Sequence[StreamEntry]) -> list[str]:
    return [entry.event.name for entry in entries]


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = urlsplit(REDIS_URL)
    if not reachable(url.hostname or "127.0.0.1", url.port or 6379):
        reason = f"Redis is not reachable at {REDIS_URL}; set SLIPWAY_TEST_REDIS_URL"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (required when CI is set)")
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    """A started client under a key prefix of this test's own, cleaned up afterwards."""
    prefix = f"contexts-test:{uuid.uuid4().hex}:"
    client = RedisClient(RedisSettings(url=SecretStr(redis_url), key_prefix=prefix))
    await client.start()
    yield client
    keys = [key async for key in client.redis.scan_iter(match=client.key("*"))]
    if keys:
        await client.redis.delete(*keys)
    await client.stop()


@pytest.fixture
def stream(redis: RedisClient) -> RedisEventStream:
    return RedisEventStream(redis)


async def test_publish_appends_to_one_stream_per_namespace_in_order(
    stream: RedisEventStream, redis: RedisClient
) -> None:
    events = [changed("a"), changed("b", namespace="other"), changed("a", 2), changed("c")]
    await stream.publish(events)

    ns = await stream.read("ns", after=None, limit=10, block_ms=0)
    other = await stream.read("other", after=None, limit=10, block_ms=0)

    assert [entry.event for entry in ns] == [events[0], events[2], events[3]]
    assert [entry.event for entry in other] == [events[1]]
    assert stream.key("ns") == redis.key("contexts:events:ns")
    raw = cast(list[Any], await redis.redis.xrange(stream.key("ns")))
    assert [entry_id.decode() for entry_id, _ in raw] == [entry.entry_id for entry in ns]
    assert ContextChanged.model_validate_json(raw[0][1][EVENT_FIELD]) == events[0]


async def test_read_resumes_after_an_id_and_honours_the_limit(stream: RedisEventStream) -> None:
    await stream.publish([changed(f"c{i}") for i in range(5)])

    first = await stream.read("ns", after=None, limit=2, block_ms=0)
    rest = await stream.read("ns", after=first[-1].entry_id, limit=10, block_ms=0)

    assert names(first) == ["c0", "c1"]
    assert names(rest) == ["c2", "c3", "c4"]
    assert await stream.read("ns", after=rest[-1].entry_id, limit=10, block_ms=0) == []
    assert await stream.read("nobody", after=None, limit=10, block_ms=0) == []


async def test_a_blocked_read_outlasts_the_socket_timeout_and_wakes_on_publish(
    stream: RedisEventStream,
) -> None:
    # The client's socket timeout is 1 s; a 1.5 s block is read in slices below it.
    started = time.monotonic()
    assert await stream.read("ns", after=None, limit=10, block_ms=1_500) == []
    assert 1.4 <= time.monotonic() - started < 3

    reader = asyncio.create_task(stream.read("ns", after=None, limit=10, block_ms=5_000))
    await asyncio.sleep(0.2)
    await stream.publish([changed("late")])
    assert names(await asyncio.wait_for(reader, 2)) == ["late"]


async def test_appends_trim_the_stream_to_about_maxlen(redis: RedisClient) -> None:
    stream = RedisEventStream(redis, maxlen=10)
    for _ in range(5):
        await stream.publish([changed(f"c{i}") for i in range(100)])

    length = await redis.redis.xlen(stream.key("ns"))
    assert 10 <= length < 500


async def test_a_group_delivers_new_entries_once_and_keeps_unacked_ones_pending(
    stream: RedisEventStream, redis: RedisClient
) -> None:
    await stream.publish([changed("early")])
    await stream.ensure_group("ns", "indexer", start_id="$")  # from now on
    await stream.ensure_group("ns", "indexer")  # exists: no error
    await stream.publish([changed("a"), changed("b")])

    got = await stream.read_group("ns", "indexer", "one", count=10, block_ms=100)
    again = await stream.read_group("ns", "indexer", "two", count=10, block_ms=100)
    assert names(got) == ["a", "b"]
    assert again == []

    await stream.ack("ns", "indexer", [got[0].entry_id])
    mine = await stream.read_group("ns", "indexer", "one", count=10, block_ms=0, pending=True)
    assert names(mine) == ["b"]
    summary = await redis.redis.xpending(stream.key("ns"), "indexer")
    assert summary["pending"] == 1


async def test_claim_takes_over_what_a_dead_consumer_left(stream: RedisEventStream) -> None:
    await stream.ensure_group("ns", "indexer")
    await stream.publish([changed("a"), changed("b")])
    delivered = await stream.read_group("ns", "indexer", "dead", count=10, block_ms=100)
    assert names(delivered) == ["a", "b"]

    cursor, too_soon = await stream.claim("ns", "indexer", "alive", min_idle_ms=60_000, count=10)
    assert too_soon == []
    await asyncio.sleep(0.05)
    cursor, claimed = await stream.claim("ns", "indexer", "alive", min_idle_ms=10, count=10)

    assert cursor == "0-0"
    assert names(claimed) == ["a", "b"]
    await stream.ack("ns", "indexer", [entry.entry_id for entry in claimed])
    assert (
        await stream.read_group("ns", "indexer", "dead", count=10, block_ms=0, pending=True) == []
    )


async def test_an_undecodable_entry_is_acknowledged_and_skipped(
    stream: RedisEventStream, redis: RedisClient
) -> None:
    await stream.ensure_group("ns", "indexer")
    await redis.redis.xadd(stream.key("ns"), {EVENT_FIELD: b"{not json"})
    await redis.redis.xadd(stream.key("ns"), {b"other": b"field"})
    await stream.publish([changed("good")])

    assert names(await stream.read("ns", after=None, limit=10, block_ms=0)) == ["good"]
    got = await stream.read_group("ns", "indexer", "one", count=10, block_ms=100)
    assert names(got) == ["good"]
    summary = await redis.redis.xpending(stream.key("ns"), "indexer")
    assert summary["pending"] == 1  # only "good", not yet acknowledged


async def test_the_consumer_acks_after_the_handler_and_redelivers_on_failure(
    stream: RedisEventStream, redis: RedisClient
) -> None:
    await stream.publish([changed("a"), changed("b"), changed("c")])

    def consumer() -> ContextEventsConsumer:
        return ContextEventsConsumer(
            stream, namespace="ns", group="indexer", consumer="worker-1", block_ms=100
        )

    handled: list[str] = []

    async def fail_on_b() -> None:
        async for event in consumer():
            if event.name == "b":
                raise RuntimeError("index down")
            handled.append(event.name)

    with pytest.raises(RuntimeError, match="index down"):
        await fail_on_b()
    assert handled == ["a"]

    # Restarted under the same name: first what it held unacknowledged, then the rest.
    second = consumer()

    async def handle(event: ContextChanged) -> None:
        handled.append(event.name)
        if event.name == "c":
            second.stop()

    async with asyncio.timeout(5):
        await second.run(handle)

    assert handled == ["a", "b", "c"]
    summary = await redis.redis.xpending(stream.key("ns"), "indexer")
    assert summary["pending"] == 0


# -- the relay through a Redis outage -------------------------------------------------------


class MemoryOutbox:
    """An OutboxSource in memory: commits always succeed, whatever Redis does."""

    def __init__(self) -> None:
        self.events: list[PendingEvent] = []
        self.published: list[int] = []

    def add(self, *events: ContextChanged) -> None:
        for event in events:
            self.events.append(PendingEvent(position=len(self.events) + 1, event=event))

    async def pending(self, limit: int) -> Sequence[PendingEvent]:
        done = set(self.published)
        return [p for p in self.events if p.position not in done][:limit]

    async def mark_published(self, positions: Sequence[int]) -> None:
        self.published.extend(positions)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not on PATH: the outage test runs its own Redis")
    server = PrivateRedis(executable, tmp_path)
    server.start()
    yield server
    server.terminate()


async def until(condition: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


async def test_relay_delivers_every_event_in_order_across_a_redis_outage(
    private_redis: PrivateRedis,
) -> None:
    settings = RedisSettings(
        url=SecretStr(private_redis.url),
        socket_timeout_seconds=0.5,
        socket_connect_timeout_seconds=0.5,
        health_check_interval_seconds=0,
    )
    client = RedisClient(settings)
    stream = RedisEventStream(client)
    outbox = MemoryOutbox()
    relay = OutboxRelay(outbox, stream, batch_size=3, poll_interval=0.05, max_backoff=0.2)
    before = [changed(f"before-{i}") for i in range(5)]
    during = [changed(f"during-{i}") for i in range(5)]
    received: list[ContextChanged] = []

    async def follow() -> None:
        # A reader that survives the outage, resuming after the last id it saw (as an SSE
        # client does); the restarted Redis is empty, and its new ids are later in time.
        cursor: str | None = None
        while True:
            try:
                entries = await stream.read("ns", after=cursor, limit=100, block_ms=200)
            except Exception:
                await asyncio.sleep(0.05)
                continue
            for entry in entries:
                received.append(entry.event)
                cursor = entry.entry_id

    await client.start()
    follower = asyncio.create_task(follow())
    await relay.start()
    try:
        outbox.add(*before)
        await until(lambda: len(received) == 5, 5, "the first events arrive")
        assert outbox.published == [1, 2, 3, 4, 5]

        private_redis.terminate()
        outbox.add(*during)  # commits keep succeeding: the events wait in the outbox
        await until(lambda: relay.status().consecutive_failures >= 3, 15, "the relay fails")
        assert outbox.published == [1, 2, 3, 4, 5]
        status = relay.status()
        assert not status.healthy
        assert status.running
        assert status.pending >= 3

        private_redis.start()  # same port, empty
        await until(lambda: len(outbox.published) == 10, 20, "the backlog is published")
        await until(lambda: len(received) >= 10, 5, "the backlog arrives")
        assert relay.status().healthy
    finally:
        await relay.stop()
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower

    # Every event, once, in outbox order: the failed rounds never reached Redis (it was
    # down before they started), so nothing was appended twice.
    assert received == before + during
    assert outbox.published == list(range(1, 11))
    assert names(await stream.read("ns", after=None, limit=100, block_ms=0)) == [
        event.name for event in during
    ]
    await client.stop()
