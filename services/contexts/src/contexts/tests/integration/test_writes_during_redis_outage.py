"""The whole service (build_app, SQLite, the outbox relay) with a Redis of the test's own that
goes down and comes back: writes keep succeeding, /ready stays up, and every change's event
reaches the namespace's Redis Stream once Redis is back, in order. Nothing is lost."""

import asyncio
import contextlib
import json
import time
from pathlib import Path

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from contexts.events.settings import EventsSettings
from contexts.main import build_app
from contexts.settings import Settings
from contexts.tests.api.conftest import ALICE, document
from slipway.cache import RedisSettings
from slipway.cache.testing import PrivateRedisServer
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.events import OutboxSettings
from slipway.events.redis_stream import EVENT_FIELD
from slipway.web.testing import app_client

pytestmark = pytest.mark.integration

NAMESPACE = "outage"


async def stream_versions(url: str, key: str) -> list[tuple[str, int]]:
    """(name, version) of every event in the stream, in stream order."""
    async with Redis.from_url(url) as redis:
        entries = await redis.xrange(key) or []
    events = [json.loads(fields[EVENT_FIELD])["payload"] for _, fields in entries if fields]
    return [(event["name"], event["version"]) for event in events]


async def test_writes_succeed_while_redis_is_down_and_every_event_arrives_after(
    private_redis_server: PrivateRedisServer, tmp_path: Path
) -> None:
    events = EventsSettings(
        outbox=OutboxSettings(
            poll_interval_seconds=0.05, retry_base_seconds=0.05, max_backoff_seconds=0.2
        )
    )
    settings = Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}")),
        redis=RedisSettings(
            url=SecretStr(private_redis_server.url),
            socket_timeout_seconds=0.5,
            socket_connect_timeout_seconds=0.5,
            health_check_interval_seconds=0,
        ),
        events=events,
    )
    key = f"{events.stream_prefix}{NAMESPACE}"
    expected: list[tuple[str, int]] = []
    seen: list[tuple[str, int]] = []

    async def refresh() -> None:
        seen[:] = await stream_versions(private_redis_server.url, key)

    async with app_client(build_app(settings)) as client:
        for name in ("a", "b"):
            response = await client.put(
                f"/v1/contexts/{NAMESPACE}/{name}", json=document(name), headers=ALICE
            )
            assert response.status_code == 201, response.text
            expected.append((name, 1))
        deadline = time.monotonic() + 10
        while seen != expected and time.monotonic() < deadline:
            await refresh()
            await asyncio.sleep(0.05)
        assert seen == expected

        private_redis_server.stop()
        for name, content in (("a", "a2"), ("c", "c"), ("a", "a3")):
            response = await client.put(
                f"/v1/contexts/{NAMESPACE}/{name}", json=document(content), headers=ALICE
            )
            assert response.status_code in (200, 201), response.text
            expected.append((name, response.json()["version"]))
        assert (await client.get("/ready")).status_code == 200

        private_redis_server.start()  # same port, empty: the backlog is all that arrives
        backlog = expected[2:]
        deadline = time.monotonic() + 20
        while seen != backlog and time.monotonic() < deadline:
            with contextlib.suppress(OSError):  # Redis may still be starting
                await refresh()
            await asyncio.sleep(0.1)
        assert seen == backlog
