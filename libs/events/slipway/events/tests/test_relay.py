"""The outbox relay on SQLite and PostgreSQL: order, wake-ups, one publisher, outages, stop."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from slipway.db import Database
from slipway.events import Event, InMemoryEventStream, OutboxRelay, OutboxSettings
from slipway.events.outbox import Outbox
from slipway.events.tests.conftest import OutboxDatabase

# The fallback poll is far longer than any wait below: only a wake-up can pass these tests.
SETTINGS = OutboxSettings(
    poll_interval_seconds=30,
    retry_base_seconds=0.05,
    max_backoff_seconds=0.2,
    lock_retry_seconds=0.2,
)
WAKE_DEADLINE_SECONDS = 1.0


class FailingPublisher:
    """A real in-memory stream behind a switch that makes `publish` raise (an outage)."""

    def __init__(self, stream: InMemoryEventStream) -> None:
        self.stream = stream
        self.failing = False
        self.attempts = 0

    async def publish(self, events: Sequence[Event]) -> None:
        self.attempts += 1
        if self.failing:
            raise ConnectionError("stream unavailable")
        await self.stream.publish(events)


def _event(number: int) -> Event:
    return Event(stream="orders", type="order.placed", payload={"n": number}, key="o")


async def _write(database: Database, outbox: Outbox, *numbers: int) -> list[Event]:
    events = [_event(n) for n in numbers]
    async with database.unit_of_work() as uow:
        await outbox.add(uow.session, *events)
    return events


async def _write_and_roll_back(odb: OutboxDatabase, number: int) -> None:
    async with odb.database.unit_of_work() as uow:
        await odb.outbox.add(uow.session, _event(number))
        raise RuntimeError("rolled back")


async def _published(stream: InMemoryEventStream) -> list[int]:
    entries = await stream.read("orders", after=None, limit=10_000, block_ms=0)
    return [int(entry.event.payload["n"]) for entry in entries]


async def _wait_for(condition: Callable[[], object], within: float) -> float:
    """Seconds until `condition()` held; fails the test past `within` seconds."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            pytest.fail(f"not within {within}s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def _wait_published(stream: InMemoryEventStream, count: int, within: float) -> float:
    """Seconds until `count` events were published; fails the test past `within` seconds."""
    started = time.monotonic()
    while len(await _published(stream)) < count:
        if time.monotonic() - started > within:
            pytest.fail(f"{count} events not published within {within}s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@asynccontextmanager
async def _running(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


def _relay(
    odb: OutboxDatabase,
    publisher: object,
    *,
    database: Database | None = None,
    outbox: Outbox | None = None,
    name: str = "relay",
    registry: CollectorRegistry | None = None,
    settings: OutboxSettings = SETTINGS,
) -> OutboxRelay:
    return OutboxRelay(
        database or odb.database,
        outbox or odb.outbox,
        publisher,  # type: ignore[arg-type]
        settings=settings,
        name=name,
        registry=registry or CollectorRegistry(),
    )


def _sample(registry: CollectorRegistry, metric: str, relay: str = "relay") -> float:
    value = registry.get_sample_value(metric, {"relay": relay})
    assert value is not None, metric
    return value


async def test_committed_events_are_published_in_order_and_rolled_back_ones_never(
    outbox_database: OutboxDatabase,
) -> None:
    odb = outbox_database
    stream = InMemoryEventStream()
    registry = CollectorRegistry()
    await _write(odb.database, odb.outbox, 1, 2)  # waiting from before start-up
    async with _running(_relay(odb, stream, registry=registry)):
        with pytest.raises(RuntimeError, match="rolled back"):
            await _write_and_roll_back(odb, 99)
        for number in range(3, 13):
            await _write(odb.database, odb.outbox, number)
        await _wait_published(stream, 12, 5)
        await asyncio.sleep(0.2)  # nothing else arrives
        assert await _published(stream) == list(range(1, 13))
        assert _sample(registry, "outbox_published_events_total") == 12
        assert _sample(registry, "outbox_pending_events") == 0
        assert _sample(registry, "outbox_relay_leader") == 1
    async with odb.database.engine.connect() as connection:
        assert (await odb.outbox.backlog(connection)).count == 0


async def test_a_commit_wakes_the_relay_at_once_despite_a_30s_poll(
    outbox_database: OutboxDatabase,
) -> None:
    odb = outbox_database
    stream = InMemoryEventStream()
    async with _running(_relay(odb, stream)):
        await asyncio.sleep(0.3)  # the first round is over; the relay idles
        for count in range(1, 4):
            await _write(odb.database, odb.outbox, count)
            assert await _wait_published(stream, count, 5) < WAKE_DEADLINE_SECONDS


async def test_batches_larger_than_batch_size_are_drained_in_order(
    outbox_database: OutboxDatabase,
) -> None:
    odb = outbox_database
    stream = InMemoryEventStream()
    await _write(odb.database, odb.outbox, *range(25))
    settings = SETTINGS.model_copy(update={"batch_size": 4})
    async with _running(_relay(odb, stream, settings=settings)):
        await _wait_published(stream, 25, 5)
    assert await _published(stream) == list(range(25))


def _count_transactions(database: Database) -> list[int]:
    """A one-item list counting the transactions begun on `database` from now on."""
    begun = [0]

    def on_begin(_connection: object) -> None:
        begun[0] += 1

    sa.event.listen(database.engine.sync_engine, "begin", on_begin)
    return begun


async def test_a_backlog_is_drained_with_one_transaction_per_batch(
    outbox_database: OutboxDatabase,
) -> None:
    odb = outbox_database
    stream = InMemoryEventStream()
    await _write(odb.database, odb.outbox, *range(25))
    settings = SETTINGS.model_copy(update={"batch_size": 4})
    other = odb.instance("relay")
    async with other:
        begun = _count_transactions(other)
        async with _running(_relay(odb, stream, database=other, settings=settings)):
            await _wait_published(stream, 25, 5)
            await asyncio.sleep(0.1)
    assert await _published(stream) == list(range(25))
    # 7 batches: the first read, then each batch's mark and the next read together (plus
    # the advisory lock on PostgreSQL). Was 20: read, mark and a backlog count per batch.
    lock = 1 if odb.database.engine.dialect.name == "postgresql" else 0
    assert begun[0] == 1 + 7 + lock


class WritingPublisher:
    """A stream whose first `publish` commits more events first: writes during a round."""

    def __init__(self, odb: OutboxDatabase, stream: InMemoryEventStream) -> None:
        self.odb = odb
        self.stream = stream
        self.calls: list[int] = []

    async def publish(self, events: Sequence[Event]) -> None:
        if not self.calls:
            for number in range(1, 4):
                await _write(self.odb.database, self.odb.outbox, number)
        self.calls.append(len(events))
        await self.stream.publish(events)


async def test_commits_during_a_round_are_read_with_its_mark_in_one_more_batch(
    outbox_database: OutboxDatabase,
) -> None:
    odb = outbox_database
    stream = InMemoryEventStream()
    publisher = WritingPublisher(odb, stream)
    other = odb.instance("relay")
    async with other, _running(_relay(odb, publisher, database=other)):
        await asyncio.sleep(0.2)  # started, idle
        begun = _count_transactions(other)
        await _write(odb.database, odb.outbox, 0)
        await _wait_published(stream, 4, 5)
        await asyncio.sleep(0.1)
    assert await _published(stream) == [0, 1, 2, 3]
    assert publisher.calls == [1, 3]
    # read [0]; mark [0] + read [1, 2, 3]; mark [1, 2, 3]. Was 4: a read and a mark each.
    assert begun[0] == 3


async def test_publisher_outage_loses_nothing_and_publishes_after_recovery(
    outbox_database: OutboxDatabase,
) -> None:
    odb = outbox_database
    publisher = FailingPublisher(InMemoryEventStream())
    publisher.failing = True
    registry = CollectorRegistry()
    relay = _relay(odb, publisher, registry=registry)
    async with _running(relay):
        await _write(odb.database, odb.outbox, 1, 2)
        await _write(odb.database, odb.outbox, 3)
        await _wait_for(lambda: publisher.attempts >= 3, 5)  # retried with backoff
        assert await _published(publisher.stream) == []
        assert _sample(registry, "outbox_relay_up") == 0
        assert _sample(registry, "outbox_relay_failures_total") >= 3
        await _wait_for(lambda: relay.status().pending == 3, 5)
        assert _sample(registry, "outbox_oldest_pending_age_seconds") > 0
        assert relay.status().last_error == "ConnectionError: stream unavailable"
        publisher.failing = False
        await _wait_published(publisher.stream, 3, 5)
        await _write(odb.database, odb.outbox, 4)
        await _wait_published(publisher.stream, 4, 5)
        assert relay.status().healthy
    assert await _published(publisher.stream) == [1, 2, 3, 4]
    assert _sample(registry, "outbox_relay_up") == 1


async def test_stop_returns_at_once_while_the_relay_backs_off(
    outbox_database: OutboxDatabase,
) -> None:
    odb = outbox_database
    publisher = FailingPublisher(InMemoryEventStream())
    publisher.failing = True
    settings = SETTINGS.model_copy(update={"retry_base_seconds": 20, "max_backoff_seconds": 20})
    relay = _relay(odb, publisher, settings=settings)
    await _write(odb.database, odb.outbox, 1)
    await relay.start()
    await _wait_for(lambda: publisher.attempts == 1, 5)  # now in a 20 s backoff
    started = time.monotonic()
    await relay.stop()
    assert time.monotonic() - started < 1
    assert not relay.running
    assert [task for task in asyncio.all_tasks() if task.get_name() == relay.name] == []
    async with odb.database.engine.connect() as connection:
        assert (await odb.outbox.backlog(connection)).count == 1  # still waiting, not lost


# -- several instances on one PostgreSQL -----------------------------------------------------


@pytest.mark.integration
async def test_notify_wakes_a_relay_in_another_instance_within_a_second(
    postgres_outbox_database: OutboxDatabase,
) -> None:
    odb = postgres_outbox_database
    stream = InMemoryEventStream()
    writer = odb.writer()  # another instance's outbox: its commit signal reaches no relay here
    other = odb.instance("other")
    async with other, _running(_relay(odb, stream, database=other)):
        await asyncio.sleep(0.3)
        for count in range(1, 4):
            await _write(odb.database, writer, count)
            assert await _wait_published(stream, count, 5) < WAKE_DEADLINE_SECONDS


@pytest.mark.integration
async def test_two_instances_publish_each_event_exactly_once(
    postgres_outbox_database: OutboxDatabase,
) -> None:
    odb = postgres_outbox_database
    stream = InMemoryEventStream()  # both instances publish to the same stream
    async with odb.instance("a") as db_a, odb.instance("b") as db_b:
        outbox_a, outbox_b = odb.writer(), odb.writer()
        relay_a = _relay(odb, stream, database=db_a, outbox=outbox_a, name="a")
        relay_b = _relay(odb, stream, database=db_b, outbox=outbox_b, name="b")
        async with _running(relay_a), _running(relay_b):
            for number in range(40):
                # Alternate writers, so both relays are woken in-process as well as by NOTIFY.
                database, outbox = (db_a, outbox_a) if number % 2 else (db_b, outbox_b)
                await _write(database, outbox, number)
                if number % 10 == 0:
                    await asyncio.sleep(0.05)
            await _wait_published(stream, 40, 10)
            await asyncio.sleep(0.5)  # a second publisher would have repeated some by now
            assert await _published(stream) == list(range(40))
            assert [relay_a.leader, relay_b.leader].count(True) == 1


@pytest.mark.integration
async def test_a_standby_takes_over_when_the_publishing_instance_stops(
    postgres_outbox_database: OutboxDatabase,
) -> None:
    odb = postgres_outbox_database
    stream = InMemoryEventStream()
    async with odb.instance("a") as db_a, odb.instance("b") as db_b:
        relay_a = _relay(odb, stream, database=db_a, outbox=odb.writer(), name="a")
        relay_b = _relay(odb, stream, database=db_b, outbox=odb.writer(), name="b")
        await relay_a.start()
        try:
            await _wait_for(lambda: relay_a.leader, 5)
            async with _running(relay_b):
                await asyncio.sleep(0.5)
                assert not relay_b.leader
                await _write(odb.database, odb.writer(), 1)
                await _wait_published(stream, 1, 5)
                await relay_a.stop()
                await _write(odb.database, odb.writer(), 2)
                took = await _wait_published(stream, 2, 5)
                assert took < SETTINGS.lock_retry_seconds + WAKE_DEADLINE_SECONDS
                assert relay_b.status().leader
        finally:
            await relay_a.stop()
    assert await _published(stream) == [1, 2]


@pytest.mark.integration
async def test_stop_ends_the_task_closes_the_connection_and_frees_the_lock(
    postgres_outbox_database: OutboxDatabase,
) -> None:
    odb = postgres_outbox_database
    async with odb.instance("relay") as database:
        relay = _relay(odb, InMemoryEventStream(), database=database)
        await relay.start()
        await _wait_for(lambda: relay.leader, 5)
        assert database.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        await relay.stop()
        assert not relay.running
        assert not relay.leader
        assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        tasks = [task for task in asyncio.all_tasks() if task.get_name() == relay.name]
        assert tasks == []
        async with odb.database.engine.begin() as connection:
            lock = sa.func.pg_try_advisory_lock(relay.lock_key)
            assert await connection.scalar(sa.select(lock))
            await connection.execute(sa.select(sa.func.pg_advisory_unlock(relay.lock_key)))


@pytest.mark.integration
async def test_a_relay_whose_connection_is_killed_reconnects_and_publishes(
    postgres_outbox_database: OutboxDatabase,
) -> None:
    odb = postgres_outbox_database
    stream = InMemoryEventStream()
    application = f"relay-{uuid.uuid4().hex[:12]}"
    database = Database(odb.settings, service_name=application, registry=CollectorRegistry())
    async with database, _running(_relay(odb, stream, database=database)) as relay:
        await _wait_for(lambda: relay.leader, 5)
        async with odb.database.engine.begin() as connection:
            terminate = sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :application"
            )
            assert await connection.scalar(terminate, {"application": application}) >= 1
        await _write(odb.database, odb.writer(), 1)
        await _wait_published(stream, 1, 10)  # reconnected, locked again, published
        assert relay.status().leader
