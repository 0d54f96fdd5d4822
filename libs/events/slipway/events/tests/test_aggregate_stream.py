"""The aggregate stream (every event also on one stream) and what a stream says it retains."""

from collections.abc import AsyncIterator

import pytest

from slipway.cache import RedisSettings
from slipway.cache.testing import started_redis_client
from slipway.events.envelope import Event
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.redis_stream import RedisEventStream

Stream = InMemoryEventStream | RedisEventStream
ALL = "@all"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.integration)])
async def aggregating(request: pytest.FixtureRequest) -> AsyncIterator[Stream]:
    """Each backend, appending every event to its own stream and to `@all`."""
    if request.param == "memory":
        yield InMemoryEventStream(maxlen=1_000, aggregate=ALL)
        return
    settings: RedisSettings = request.getfixturevalue("redis_settings")
    async with started_redis_client(settings) as client:
        yield RedisEventStream(client, maxlen=1_000, aggregate=ALL)


def _event(stream: str, n: int) -> Event:
    return Event(stream=stream, type="thing.changed", payload={"n": n}, key=f"k{n}")


async def test_every_event_lands_on_its_stream_and_on_the_aggregate_in_order(
    aggregating: Stream,
) -> None:
    sent = [_event("team-a", 0), _event("team-b", 1), _event("team-a", 2)]
    await aggregating.publish(sent)
    team_a = await aggregating.read("team-a", after=None, limit=10, block_ms=0)
    team_b = await aggregating.read("team-b", after=None, limit=10, block_ms=0)
    every = await aggregating.read(ALL, after=None, limit=10, block_ms=0)
    assert [entry.event for entry in team_a] == [sent[0], sent[2]]
    assert [entry.event for entry in team_b] == [sent[1]]
    assert [entry.event for entry in every] == sent  # the same events, ids included
    assert [entry.event.stream for entry in every] == ["team-a", "team-b", "team-a"]


async def test_an_event_for_the_aggregate_itself_is_appended_once(aggregating: Stream) -> None:
    await aggregating.publish([_event(ALL, 0)])
    assert len(await aggregating.read(ALL, after=None, limit=10, block_ms=0)) == 1


async def test_without_an_aggregate_nothing_else_is_written(stream: Stream) -> None:
    await stream.publish([_event("team-a", 0)])
    assert await stream.read(ALL, after=None, limit=10, block_ms=0) == []


async def test_first_id_names_the_oldest_kept_entry_or_none(aggregating: Stream) -> None:
    assert await aggregating.first_id(ALL) is None
    await aggregating.publish([_event("team-a", 0), _event("team-a", 1)])
    every = await aggregating.read(ALL, after=None, limit=10, block_ms=0)
    assert await aggregating.first_id(ALL) == every[0].entry_id
    assert await aggregating.last_id(ALL) == every[-1].entry_id


async def test_first_id_moves_on_as_the_stream_is_trimmed() -> None:
    stream = InMemoryEventStream(maxlen=10, aggregate=ALL)
    await stream.publish([_event("team-a", n) for n in range(30)])
    kept = await stream.read(ALL, after=None, limit=100, block_ms=0)
    assert kept[0].event.payload["n"] > 0
    assert await stream.first_id(ALL) == kept[0].entry_id


async def test_group_position_is_none_without_a_group_then_follows_deliveries(
    aggregating: Stream,
) -> None:
    assert await aggregating.group_position(ALL, "search") is None
    await aggregating.publish([_event("team-a", 0), _event("team-a", 1)])
    await aggregating.ensure_group(ALL, "search")
    assert await aggregating.group_position(ALL, "search") == "0-0"
    delivered = await aggregating.read_group(ALL, "search", "c1", count=1, block_ms=0)
    assert await aggregating.group_position(ALL, "search") == delivered[0].entry_id


async def test_set_group_position_creates_or_moves_a_group(aggregating: Stream) -> None:
    await aggregating.publish([_event("team-a", n) for n in range(3)])
    every = await aggregating.read(ALL, after=None, limit=10, block_ms=0)
    await aggregating.set_group_position(ALL, "search", every[0].entry_id)  # created there
    got = await aggregating.read_group(ALL, "search", "c1", count=10, block_ms=0)
    assert [entry.event.payload["n"] for entry in got] == [1, 2]
    await aggregating.set_group_position(ALL, "search", every[1].entry_id)  # moved back
    again = await aggregating.read_group(ALL, "search", "c1", count=10, block_ms=0)
    assert [entry.event.payload["n"] for entry in again] == [2]
    assert await aggregating.group_position(ALL, "search") == every[2].entry_id
