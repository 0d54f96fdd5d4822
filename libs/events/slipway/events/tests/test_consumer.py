"""`EventConsumer` on Redis Streams and in memory: ack after the handler, claim, share, stop."""

import asyncio

import pytest
import sqlalchemy as sa

from slipway.db import Database
from slipway.events import (
    Event,
    EventConsumer,
    EventHandler,
    InMemoryEventStream,
    RedisEventStream,
    first_delivery,
    processed_events_table,
)
from slipway.events.tests.conftest import OutboxDatabase

Stream = InMemoryEventStream | RedisEventStream
STREAM = "orders"
GROUP = "billing"


def _events(*numbers: int) -> list[Event]:
    return [Event(stream=STREAM, type="order.placed", payload={"n": n}) for n in numbers]


def _consumer(
    stream: Stream,
    name: str,
    *,
    batch_size: int = 10,
    block_ms: int = 50,
    claim_idle_ms: int = 60_000,
) -> EventConsumer:
    return EventConsumer(
        stream,
        stream=STREAM,
        group=GROUP,
        consumer=name,
        batch_size=batch_size,
        block_ms=block_ms,
        claim_idle_ms=claim_idle_ms,
    )


async def _handle(consumer: EventConsumer, count: int, within: float = 5) -> list[int]:
    """Run the consumer until it handled `count` events; their numbers."""
    seen: list[int] = []

    async def handler(event: Event) -> None:
        seen.append(int(event.payload["n"]))
        if len(seen) >= count:
            consumer.stop()

    await asyncio.wait_for(consumer.run(handler), within)
    return seen


async def _nothing_left(stream: Stream) -> bool:
    """Nothing new for the group and nothing pending (claimable at once)."""
    claimed = await stream.claim(STREAM, GROUP, "inspector", min_idle_ms=0, count=100)
    fresh = await stream.read_group(STREAM, GROUP, "inspector", count=100, block_ms=0)
    return not claimed and not fresh


async def test_each_event_is_handled_in_order_and_acknowledged(stream: Stream) -> None:
    consumer = _consumer(stream, "c1")
    await stream.publish(_events(1, 2, 3, 4, 5))
    assert await _handle(consumer, 5) == [1, 2, 3, 4, 5]
    assert await _nothing_left(stream)


async def test_events_published_while_waiting_are_handled(stream: Stream) -> None:
    consumer = _consumer(stream, "c1", block_ms=1_000)
    handled = asyncio.create_task(_handle(consumer, 2))
    await asyncio.sleep(0.1)
    await stream.publish(_events(1))
    await stream.publish(_events(2))
    assert await handled == [1, 2]


async def test_a_failed_handler_leaves_its_events_to_be_claimed_by_another_consumer(
    stream: Stream,
) -> None:
    await stream.publish(_events(1, 2, 3))

    async def crash_on_two(event: Event) -> None:
        if event.payload["n"] == 2:
            raise RuntimeError("handler crashed")

    crashed = _consumer(stream, "crashed")
    with pytest.raises(RuntimeError, match="handler crashed"):
        await crashed.run(crash_on_two)
    survivor = _consumer(stream, "survivor", claim_idle_ms=100)
    await asyncio.sleep(0.15)  # the crashed consumer's entries are idle long enough
    assert await _handle(survivor, 2) == [2, 3]  # 1 was acknowledged before the crash
    assert await _nothing_left(stream)


async def test_entries_are_not_claimed_before_they_are_idle_long_enough(stream: Stream) -> None:
    await stream.publish(_events(1))
    async for _event in _consumer(stream, "first"):
        break  # leaves the event unacknowledged
    await stream.publish(_events(2))
    other = _consumer(stream, "other", claim_idle_ms=60_000)
    assert await _handle(other, 1) == [2]


async def test_consumers_of_one_group_share_the_events(stream: Stream) -> None:
    await stream.publish(_events(*range(30)))
    seen: dict[str, list[int]] = {"a": [], "b": []}
    consumers = {name: _consumer(stream, name, batch_size=3) for name in seen}

    def handler_of(name: str) -> EventHandler:
        async def handler(event: Event) -> None:
            seen[name].append(int(event.payload["n"]))
            await asyncio.sleep(0.005)  # lets the other consumer read meanwhile
            if len(seen["a"]) + len(seen["b"]) >= 30:
                for consumer in consumers.values():
                    consumer.stop()

        return handler

    await asyncio.wait_for(
        asyncio.gather(*(c.run(handler_of(name)) for name, c in consumers.items())),
        10,
    )
    assert sorted(seen["a"] + seen["b"]) == list(range(30))
    assert seen["a"]
    assert seen["b"]


async def test_stop_ends_a_waiting_consumer(stream: Stream) -> None:
    consumer = _consumer(stream, "c1", block_ms=100)
    running = asyncio.create_task(_handle(consumer, 100))
    await asyncio.sleep(0.2)
    consumer.stop()
    assert await asyncio.wait_for(running, 2) == []


async def test_a_group_started_at_dollar_sees_only_new_events(stream: Stream) -> None:
    await stream.publish(_events(1))
    consumer = EventConsumer(
        stream, stream=STREAM, group=GROUP, consumer="c1", block_ms=1_000, start_id="$"
    )
    handled = asyncio.create_task(_handle(consumer, 1))
    await asyncio.sleep(0.1)
    await stream.publish(_events(2))
    assert await handled == [2]


async def _first_delivery_then_fail(database: Database, table: sa.Table, event: Event) -> None:
    async with database.unit_of_work() as uow:
        assert await first_delivery(uow.session, table, event, consumer="x")
        raise RuntimeError("the handler's effects failed")


async def test_first_delivery_recognises_a_redelivered_event(
    outbox_database: OutboxDatabase,
) -> None:
    database = outbox_database.database
    metadata = sa.MetaData()
    table = processed_events_table(metadata, f"processed_{outbox_database.outbox.table.name}")
    async with database.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        event = _events(1)[0]
        async with database.unit_of_work() as uow:
            assert await first_delivery(uow.session, table, event, consumer="billing")
        async with database.unit_of_work() as uow:
            assert not await first_delivery(uow.session, table, event, consumer="billing")
            assert await first_delivery(uow.session, table, event, consumer="search")
        with pytest.raises(RuntimeError, match="effects failed"):
            await _first_delivery_then_fail(database, table, _events(2)[0])
        async with database.engine.connect() as connection:
            count = await connection.scalar(sa.select(sa.func.count()).select_from(table))
        assert count == 2  # the rolled-back delivery left no record: it will be handled again
    finally:
        async with database.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
