"""Domain events on a Redis Stream, read back from the machine's Redis."""

import json
from uuid import uuid4

import pytest

from contexts.adapters.redis_events import RedisStreamPublisher
from contexts.domain.model import ItemCreated
from slipway.cache import RedisClient

pytestmark = pytest.mark.integration


async def test_an_event_is_appended_to_the_stream(redis_client: RedisClient) -> None:
    publisher = RedisStreamPublisher(redis_client, "events")
    event = ItemCreated(item_id=uuid4(), name="first")
    await publisher.publish(event)
    entries = await redis_client.redis.xrange(publisher.stream)
    assert isinstance(entries, list)
    [(_, fields)] = entries
    assert isinstance(fields, dict)
    assert fields[b"type"] == b"item.created"
    assert json.loads(fields[b"data"]) == {"item_id": str(event.item_id), "name": "first"}
