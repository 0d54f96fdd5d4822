"""StreamHub while Redis goes away: short outages lose nothing, long ones close with a reason."""

import asyncio

import pytest

from slipway.cache import RedisClient
from slipway.cache.testing import PrivateRedisServer
from slipway.events.envelope import Event
from slipway.events.redis_stream import RedisEventStream
from slipway.events.subscription import EventStreamUnavailable
from slipway.events.tests.conftest import MakeHub

pytestmark = pytest.mark.integration


def _event(n: int) -> Event:
    return Event(stream="s", type="thing.changed", payload={"n": n})


async def test_an_outage_shorter_than_the_grace_loses_no_subscriber(
    private_redis_server: PrivateRedisServer, private_redis_client: RedisClient, make_hub: MakeHub
) -> None:
    stream = RedisEventStream(private_redis_client)
    hub = await make_hub(
        stream, unavailable_after_seconds=30, retry_base_seconds=0.05, max_backoff_seconds=0.2
    )
    async with hub.subscribe("s", principal="a") as subscription:
        await stream.publish([_event(0)])
        first = await asyncio.wait_for(anext(subscription), 5)
        assert first.event.payload == {"n": 0}
        private_redis_server.stop()
        await asyncio.sleep(1.5)  # several failed reads
        private_redis_server.start()
        await stream.publish([_event(1)])
        second = await asyncio.wait_for(anext(subscription), 10)
        assert second.event.payload == {"n": 1}
        assert not subscription.closed


async def test_a_longer_outage_closes_subscribers_with_event_stream_unavailable(
    private_redis_server: PrivateRedisServer, private_redis_client: RedisClient, make_hub: MakeHub
) -> None:
    stream = RedisEventStream(private_redis_client)
    hub = await make_hub(
        stream, unavailable_after_seconds=0.5, retry_base_seconds=0.05, max_backoff_seconds=0.2
    )
    subscription = await hub.subscribe("s", principal="a").open()
    private_redis_server.stop()
    with pytest.raises(EventStreamUnavailable, match="event stream unavailable"):
        await asyncio.wait_for(anext(subscription), 10)
    assert hub.subscriber_count() == 0
    with pytest.raises(EventStreamUnavailable):
        await hub.subscribe("other", principal="a").open()
    private_redis_server.start()
    async with hub.subscribe("s", principal="a") as again:
        await stream.publish([_event(2)])
        assert (await asyncio.wait_for(anext(again), 10)).event.payload == {"n": 2}
