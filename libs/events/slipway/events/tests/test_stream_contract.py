"""The stream contract both backends keep: ordered appends, reads after an id, groups."""

import asyncio
import time

from slipway.events.envelope import Event
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.redis_stream import RedisEventStream

Stream = InMemoryEventStream | RedisEventStream


def _events(stream: str, count: int) -> list[Event]:
    return [Event(stream=stream, type="thing.changed", payload={"n": n}) for n in range(count)]


async def test_published_events_read_back_in_order_with_increasing_ids(stream: Stream) -> None:
    sent = _events("orders", 3)
    await stream.publish(sent)
    entries = await stream.read("orders", after=None, limit=10, block_ms=0)
    assert [entry.event for entry in entries] == sent
    ids = [tuple(map(int, entry.entry_id.split("-"))) for entry in entries]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_read_after_an_id_returns_only_later_entries(stream: Stream) -> None:
    await stream.publish(_events("orders", 4))
    first = await stream.read("orders", after=None, limit=2, block_ms=0)
    rest = await stream.read("orders", after=first[-1].entry_id, limit=10, block_ms=0)
    assert [entry.event.payload["n"] for entry in rest] == [2, 3]


async def test_blocking_read_returns_an_event_published_while_waiting(stream: Stream) -> None:
    last = await stream.last_id("orders")
    reading = asyncio.create_task(stream.read("orders", after=last, limit=10, block_ms=3_000))
    await asyncio.sleep(0.05)
    await stream.publish(_events("orders", 1))
    entries = await asyncio.wait_for(reading, 2)
    assert len(entries) == 1


async def test_blocking_read_longer_than_the_socket_timeout_returns_empty(stream: Stream) -> None:
    started = time.monotonic()
    assert await stream.read("quiet", after=None, limit=10, block_ms=1_200) == []
    assert time.monotonic() - started >= 1.1


async def test_last_id_names_the_newest_entry_or_zero(stream: Stream) -> None:
    assert await stream.last_id("orders") == "0-0"
    await stream.publish(_events("orders", 2))
    entries = await stream.read("orders", after=None, limit=10, block_ms=0)
    assert await stream.last_id("orders") == entries[-1].entry_id


async def test_read_many_returns_each_streams_entries_after_its_cursor(stream: Stream) -> None:
    await stream.publish([*_events("a", 2), *_events("b", 1)])
    found = await stream.read_many({"a": "0-0", "b": "0-0", "c": "0-0"}, limit=10, block_ms=0)
    assert {name: len(entries) for name, entries in found.items()} == {"a": 2, "b": 1}


async def test_group_delivers_each_entry_to_one_consumer_until_acked(stream: Stream) -> None:
    await stream.ensure_group("jobs", "workers")
    await stream.ensure_group("jobs", "workers")  # idempotent
    await stream.publish(_events("jobs", 3))
    one = await stream.read_group("jobs", "workers", "c1", count=2, block_ms=0)
    two = await stream.read_group("jobs", "workers", "c2", count=10, block_ms=0)
    assert [e.event.payload["n"] for e in one] == [0, 1]
    assert [e.event.payload["n"] for e in two] == [2]
    assert await stream.read_group("jobs", "workers", "c1", count=10, block_ms=0) == []


async def test_group_created_with_dollar_skips_the_existing_history(stream: Stream) -> None:
    await stream.publish(_events("jobs", 2))
    await stream.ensure_group("jobs", "late", start_id="$")
    assert await stream.read_group("jobs", "late", "c1", count=10, block_ms=0) == []


async def test_unacked_entries_are_claimed_after_idling_and_acked_ones_never(
    stream: Stream,
) -> None:
    await stream.ensure_group("jobs", "workers")
    await stream.publish(_events("jobs", 2))
    taken = await stream.read_group("jobs", "workers", "dead", count=10, block_ms=0)
    await stream.ack("jobs", "workers", [taken[0].entry_id])
    assert await stream.claim("jobs", "workers", "alive", min_idle_ms=10_000, count=10) == []
    await asyncio.sleep(0.15)
    claimed = await stream.claim("jobs", "workers", "alive", min_idle_ms=100, count=10)
    assert [entry.entry_id for entry in claimed] == [taken[1].entry_id]
    # Claiming resets the idle time: the entry is the new owner's now.
    assert await stream.claim("jobs", "workers", "other", min_idle_ms=100, count=10) == []
