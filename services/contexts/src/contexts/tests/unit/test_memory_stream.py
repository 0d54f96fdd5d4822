"""InMemoryEventStream: Redis-like ids, per-namespace order, resuming, blocking reads."""

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest

from contexts.adapters.memory_stream import InMemoryEventStream, parse_entry_id
from contexts.domain.events import ChangeAction, ContextChanged


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


async def test_read_returns_each_namespace_in_publish_order() -> None:
    stream = InMemoryEventStream()
    events = [changed("a"), changed("b", namespace="other"), changed("a", 2), changed("c")]
    await stream.publish(events)

    ns = await stream.read("ns", after=None, limit=10, block_ms=0)
    other = await stream.read("other", after=None, limit=10, block_ms=0)

    assert [entry.event for entry in ns] == [events[0], events[2], events[3]]
    assert [entry.event for entry in other] == [events[1]]


async def test_ids_look_like_redis_ids_and_increase_even_when_the_clock_goes_back() -> None:
    now = [1_700_000_000.0]
    stream = InMemoryEventStream(clock=lambda: now[0])
    await stream.publish([changed("a"), changed("b")])
    now[0] -= 5  # the wall clock stepped back
    await stream.publish([changed("c")])
    now[0] += 10
    await stream.publish([changed("d")])

    ids = [entry.entry_id for entry in await stream.read("ns", after=None, limit=10, block_ms=0)]

    assert ids == [
        "1700000000000-0",
        "1700000000000-1",
        "1700000000000-2",
        "1700000005000-0",
    ]
    assert [parse_entry_id(i) for i in ids] == sorted(parse_entry_id(i) for i in ids)


async def test_read_resumes_after_an_id_and_honours_the_limit() -> None:
    stream = InMemoryEventStream()
    events = [changed(f"c{i}") for i in range(5)]
    await stream.publish(events)
    first = await stream.read("ns", after=None, limit=2, block_ms=0)

    rest = await stream.read("ns", after=first[-1].entry_id, limit=10, block_ms=0)

    assert [entry.event for entry in first] == events[:2]
    assert [entry.event for entry in rest] == events[2:]
    assert await stream.read("ns", after=rest[-1].entry_id, limit=10, block_ms=0) == []


async def test_an_unknown_namespace_is_empty_and_a_bad_id_is_refused() -> None:
    stream = InMemoryEventStream()
    assert await stream.read("nobody", after=None, limit=10, block_ms=0) == []
    with pytest.raises(ValueError, match="not a stream entry id"):
        await stream.read("ns", after="yesterday", limit=10, block_ms=0)


async def test_a_blocked_read_wakes_on_publish() -> None:
    stream = InMemoryEventStream()
    event = changed("late")

    reader = asyncio.create_task(stream.read("ns", after=None, limit=10, block_ms=5_000))
    await asyncio.sleep(0.01)
    assert not reader.done()
    await stream.publish([changed("elsewhere", namespace="other")])
    await asyncio.sleep(0.01)
    assert not reader.done()  # another namespace does not satisfy it
    started = time.monotonic()
    await stream.publish([event])

    entries = await asyncio.wait_for(reader, 1)
    assert [entry.event for entry in entries] == [event]
    assert time.monotonic() - started < 1


async def test_a_blocked_read_gives_up_after_block_ms() -> None:
    stream = InMemoryEventStream()
    started = time.monotonic()

    assert await stream.read("ns", after=None, limit=10, block_ms=50) == []
    assert 0.04 <= time.monotonic() - started < 1


async def test_maxlen_keeps_about_the_newest_entries() -> None:
    stream = InMemoryEventStream(maxlen=10)
    events = [changed(f"c{i}") for i in range(100)]
    await stream.publish(events)

    kept = await stream.read("ns", after=None, limit=1_000, block_ms=0)

    assert 10 <= len(kept) <= 12
    assert [entry.event for entry in kept] == events[-len(kept) :]
    assert len(stream) == len(kept)
