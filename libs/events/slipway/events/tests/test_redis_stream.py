"""Redis-only behaviour: entries not written by slipway are skipped (and acked in groups)."""

import pytest

from slipway.cache import RedisClient
from slipway.events.envelope import Event
from slipway.events.redis_stream import RedisEventStream

pytestmark = pytest.mark.integration


async def test_undecodable_entries_are_skipped_on_read_and_acked_in_groups(
    redis_client: RedisClient,
) -> None:
    stream = RedisEventStream(redis_client)
    await stream.ensure_group("mixed", "workers")
    await redis_client.redis.xadd(stream.key("mixed"), {b"event": b"not json"})
    await redis_client.redis.xadd(stream.key("mixed"), {b"other": b"field"})
    await stream.publish([Event(stream="mixed", type="ok", payload={})])
    read = await stream.read("mixed", after=None, limit=10, block_ms=0)
    assert [entry.event.type for entry in read] == ["ok"]
    grouped = await stream.read_group("mixed", "workers", "c1", count=10, block_ms=0)
    assert [entry.event.type for entry in grouped] == ["ok"]
    pending = await redis_client.redis.xpending(stream.key("mixed"), "workers")
    assert pending["pending"] == 1  # only the decodable one awaits its ack


async def test_publish_trims_each_stream_to_about_maxlen(redis_client: RedisClient) -> None:
    stream = RedisEventStream(redis_client, maxlen=10)
    for _ in range(30):
        await stream.publish([Event(stream="busy", type="t", payload={}) for _ in range(10)])
    assert await redis_client.redis.xlen(stream.key("busy")) < 300
