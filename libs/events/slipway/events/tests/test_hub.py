"""StreamHub on both backends: one reader, fan-out in order, resume, limits, slow consumers."""

import asyncio
import time
from collections.abc import Mapping, Sequence

import pytest
from prometheus_client import CollectorRegistry

from slipway.cache import RedisClient, RedisSettings
from slipway.events.envelope import Event, StreamEntry
from slipway.events.hub import StreamHub
from slipway.events.memory_stream import InMemoryEventStream
from slipway.events.redis_stream import RedisEventStream
from slipway.events.subscription import (
    SubscriberDropped,
    Subscription,
    SubscriptionClosed,
    TooManySubscriptions,
)
from slipway.events.tests.conftest import MakeHub

Stream = InMemoryEventStream | RedisEventStream


class ReadCounter:
    """A real stream, with its reads counted: how many are in flight at most, and how many."""

    def __init__(self, inner: Stream) -> None:
        self.inner = inner
        self.in_flight = 0
        self.max_in_flight = 0
        self.multiplexed_reads = 0
        self.direct_reads = 0

    async def publish(self, events: Sequence[Event]) -> None:
        await self.inner.publish(events)

    async def read(
        self, stream: str, *, after: str | None, limit: int, block_ms: int
    ) -> Sequence[StreamEntry]:
        self.direct_reads += 1
        return await self.inner.read(stream, after=after, limit=limit, block_ms=block_ms)

    async def last_id(self, stream: str) -> str:
        return await self.inner.last_id(stream)

    async def read_many(
        self, after: Mapping[str, str], *, limit: int, block_ms: int
    ) -> Mapping[str, Sequence[StreamEntry]]:
        self.multiplexed_reads += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.inner.read_many(after, limit=limit, block_ms=block_ms)
        finally:
            self.in_flight -= 1


def _event(stream: str, n: int, **payload: object) -> Event:
    return Event(stream=stream, type="thing.changed", payload={"n": n, **payload})


async def _take(subscription: Subscription, count: int) -> list[int]:
    taken: list[int] = []
    async with asyncio.timeout(5):
        async for entry in subscription:
            taken.append(int(entry.event.payload["n"]))
            if len(taken) == count:
                break
    return taken


async def test_two_hundred_subscribers_over_ten_streams_share_one_reader(
    stream: Stream, make_hub: MakeHub
) -> None:
    counted = ReadCounter(stream)
    hub = await make_hub(counted, per_principal=200, total=200)
    names = [f"s{index}" for index in range(10)]
    subscriptions = [
        await hub.subscribe(names[index % 10], principal=f"p{index}").open() for index in range(200)
    ]
    assert hub.followed_streams() == frozenset(names)
    readers = [asyncio.create_task(_take(sub, 5)) for sub in subscriptions]
    for n in range(5):  # interleaved over the streams
        await counted.publish([_event(name, n) for name in names])
    results = await asyncio.gather(*readers)
    assert all(result == [0, 1, 2, 3, 4] for result in results)
    assert counted.max_in_flight == 1
    assert counted.direct_reads == 0  # nobody resumed, so nobody read on its own


@pytest.mark.integration
async def test_two_hundred_redis_subscribers_need_no_more_than_two_connections(
    redis_client: RedisClient, redis_settings: RedisSettings, make_hub: MakeHub
) -> None:
    # The hub's client gets a pool of two: one for the reader, one for everything else.
    small = RedisClient(redis_settings.model_copy(update={"max_connections": 2}), name="small")
    await small.start()
    try:
        hub = await make_hub(RedisEventStream(small), per_principal=200, total=200)
        publisher = RedisEventStream(redis_client)  # another process's, in production
        subscriptions = [
            await hub.subscribe(f"s{index % 10}", principal=f"p{index}").open()
            for index in range(200)
        ]
        readers = [asyncio.create_task(_take(sub, 3)) for sub in subscriptions]
        for n in range(3):
            await publisher.publish([_event(f"s{index}", n) for index in range(10)])
        results = await asyncio.gather(*readers)
        assert all(result == [0, 1, 2] for result in results)
    finally:
        await hub.stop()
        await small.stop()


async def test_each_subscriber_gets_only_its_streams_entries_in_order(
    stream: Stream, make_hub: MakeHub
) -> None:
    hub = await make_hub(stream)
    async with (
        hub.subscribe("a", principal="x") as first,
        hub.subscribe("a", principal="y") as second,
        hub.subscribe("b", principal="x") as other,
    ):
        for n in range(20):
            await stream.publish([_event("a", n), _event("b", 100 + n)])
        assert await _take(first, 20) == list(range(20))
        assert await _take(second, 20) == list(range(20))
        assert await _take(other, 20) == list(range(100, 120))


async def test_live_subscription_starts_after_what_was_already_published(
    stream: Stream, make_hub: MakeHub
) -> None:
    hub = await make_hub(stream)
    await stream.publish([_event("a", n) for n in range(3)])
    async with hub.subscribe("a", principal="x") as live:
        await stream.publish([_event("a", 3)])
        assert await _take(live, 1) == [3]


@pytest.mark.parametrize("followed", [False, True], ids=["cold-stream", "followed-stream"])
async def test_resume_after_an_id_replays_then_continues_live_without_gap_or_duplicate(
    stream: Stream, make_hub: MakeHub, followed: bool
) -> None:
    hub = await make_hub(stream, replay_batch=7)
    await stream.publish([_event("a", n) for n in range(30)])
    history = await stream.read("a", after=None, limit=100, block_ms=0)
    async with hub.subscribe("a", principal="watcher") as watcher:
        if not followed:
            watcher.close()
        resumed = await hub.subscribe("a", principal="x", after=history[9].entry_id).open()
        try:
            # Published while it replays: delivered live, after the backlog, once.
            await stream.publish([_event("a", n) for n in range(30, 40)])
            assert await _take(resumed, 30) == list(range(10, 40))
            await stream.publish([_event("a", 40)])
            assert await _take(resumed, 1) == [40]
        finally:
            resumed.close()


async def test_resume_after_the_newest_id_only_goes_live(stream: Stream, make_hub: MakeHub) -> None:
    hub = await make_hub(stream)
    await stream.publish([_event("a", n) for n in range(3)])
    newest = await stream.last_id("a")
    async with hub.subscribe("a", principal="x", after=newest) as resumed:
        await stream.publish([_event("a", 3)])
        assert await _take(resumed, 1) == [3]


async def test_malformed_resume_id_is_refused() -> None:
    hub = StreamHub(InMemoryEventStream())
    with pytest.raises(ValueError, match="not a stream entry id"):
        hub.subscribe("a", principal="x", after="yesterday")


async def test_flood_from_one_principal_is_refused_past_its_limit_while_others_stay_fast(
    stream: Stream, make_hub: MakeHub, registry: CollectorRegistry
) -> None:
    hub = await make_hub(stream, per_principal=20, total=1_000)
    victim = await hub.subscribe("victim", principal="alice").open()
    flood: list[Subscription] = []
    refusals: list[TooManySubscriptions] = []
    for index in range(150):
        try:
            flood.append(await hub.subscribe(f"flood-{index}", principal="mallory").open())
        except TooManySubscriptions as refusal:
            refusals.append(refusal)
    assert len(flood) == 20
    assert len(refusals) == 130
    assert {(r.scope, r.retry_after_seconds) for r in refusals} == {("principal", 5)}
    refused = registry.get_sample_value(
        "stream_hub_refused_subscriptions_total", {"hub": "stream-hub", "scope": "principal"}
    )
    assert refused == 130
    drains = [asyncio.create_task(_drain(sub)) for sub in flood]
    received: dict[int, float] = {}

    async def receive() -> None:
        async for entry in victim:
            received[int(entry.event.payload["n"])] = time.monotonic()
            if len(received) == 20:
                return

    receiving = asyncio.create_task(receive())
    sent: dict[int, float] = {}
    for n in range(20):
        # The flood's streams are busy too: every round writes to all of them.
        await stream.publish([_event(f"flood-{index}", n) for index in range(20)])
        sent[n] = time.monotonic()
        await stream.publish([_event("victim", n)])
        await asyncio.sleep(0.02)
    await asyncio.wait_for(receiving, 5)
    latencies = sorted(received[n] - sent[n] for n in range(20))
    assert latencies[-1] < 0.2, f"delivery latency {latencies}"
    for task in drains:
        task.cancel()
    victim.close()


async def _collect(subscription: Subscription, into: list[int]) -> None:
    async for entry in subscription:
        into.append(int(entry.event.payload["n"]))


async def _drain(subscription: Subscription) -> None:
    async for _entry in subscription:
        pass


async def test_total_limit_refuses_any_principal_once_reached(
    stream: Stream, make_hub: MakeHub
) -> None:
    hub = await make_hub(stream, per_principal=3, total=5)
    for principal in ("a", "a", "a", "b", "b"):
        await hub.subscribe("s", principal=principal).open()
    with pytest.raises(TooManySubscriptions) as refused:
        await hub.subscribe("s", principal="c").open()
    assert refused.value.scope == "total"
    assert hub.subscriber_count() == 5


async def test_closing_a_subscription_gives_its_place_back(
    stream: Stream, make_hub: MakeHub
) -> None:
    hub = await make_hub(stream, per_principal=1)
    async with hub.subscribe("s", principal="a"):
        assert hub.subscriber_count("a") == 1
        with pytest.raises(TooManySubscriptions):
            await hub.subscribe("t", principal="a").open()
    assert hub.subscriber_count("a") == 0
    assert hub.followed_streams() == frozenset()
    async with hub.subscribe("t", principal="a"):
        assert hub.followed_streams() == frozenset({"t"})


async def test_slow_subscriber_is_dropped_with_a_reason_and_others_are_unaffected(
    stream: Stream, make_hub: MakeHub, registry: CollectorRegistry
) -> None:
    hub = await make_hub(stream, queue_size=5)
    slow = await hub.subscribe("s", principal="slow").open()
    fast = await hub.subscribe("s", principal="fast").open()
    fast_reader = asyncio.create_task(_take(fast, 20))
    for n in range(20):
        await stream.publish([_event("s", n)])
        await asyncio.sleep(0.005)  # the fast reader keeps up; the slow one never reads
    assert await fast_reader == list(range(20))
    received: list[int] = []
    with pytest.raises(SubscriberDropped, match="slow consumer"):
        await _collect(slow, received)
    assert received == [0, 1, 2, 3, 4]  # what it had buffered, then the reason
    assert hub.subscriber_count("slow") == 0
    dropped = registry.get_sample_value(
        "stream_hub_dropped_subscribers_total", {"hub": "stream-hub", "reason": "slow consumer"}
    )
    assert dropped == 1
    fast.close()


async def test_stopping_the_hub_ends_subscriptions_with_the_shutdown_reason(
    stream: Stream, make_hub: MakeHub
) -> None:
    hub = await make_hub(stream)
    subscription = await hub.subscribe("s", principal="a").open()
    await hub.stop()
    with pytest.raises(SubscriptionClosed, match="server shutting down"):
        await anext(subscription)
    with pytest.raises(SubscriptionClosed, match="server shutting down"):
        await hub.subscribe("s", principal="a").open()


async def test_stop_is_prompt_while_the_first_read_opens_its_connection(
    stream: Stream, make_hub: MakeHub
) -> None:
    hub = await make_hub(stream, read_block_ms=5_000)
    for principal in ("a", "b", "c"):
        await hub.subscribe("s", principal=principal).open()
    for _ in range(3):  # let the reader start its first read, and that read start connecting
        await asyncio.sleep(0)
    started = time.monotonic()
    await hub.stop()
    assert time.monotonic() - started < 1
