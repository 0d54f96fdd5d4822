"""The whole service (build_app, on uvicorn: httpx's ASGITransport buffers streams) serving
/v1/events: only events of contexts the caller may read, limits per caller, and the relay's
commit wake-up. Embedded (SQLite, in-memory stream), with the real Redis, and on the real
PostgreSQL + Redis where the relay's latency is measured."""

import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from contexts.events.settings import EventsSettings
from contexts.main import build_app
from contexts.settings import Settings
from contexts.tests.api.conftest import ALICE, READ, Headers, bearer
from contexts.tests.api.test_events_sse import Sse, next_events, sse_blocks
from contexts.tests.integration.sql_support import postgres_admin_url
from slipway.cache import RedisSettings
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.db.testing import throwaway_postgres_database
from slipway.events import FanoutSettings, OutboxSettings
from slipway.web.testing.server import serving as served

NAMESPACE = "team-a"
BOB_READER = bearer("bob", scopes=[READ])
CAROL_READER = bearer("carol", scopes=[READ])
PER_CALLER = 2
TIMEOUT = 5.0


def doc(content: str, readers: list[str]) -> dict[str, Any]:
    """A `document` v1 PUT body readable by `readers` besides its owner."""
    return {
        "kind": "document",
        "schema_version": 1,
        "body": {"content": content, "format": "markdown"},
        "acl": {"readers": readers, "writers": []},
    }


def events_settings(*, poll_seconds: float = 5.0) -> EventsSettings:
    return EventsSettings(
        outbox=OutboxSettings(poll_interval_seconds=poll_seconds),
        fanout=FanoutSettings(per_principal=PER_CALLER, read_block_ms=500),
    )


@dataclass
class Live:
    url: str
    http: httpx.AsyncClient

    async def put(self, name: str, body: dict[str, Any], headers: Headers = ALICE) -> int:
        response = await self.http.put(
            f"{self.url}/v1/contexts/{NAMESPACE}/{name}", json=body, headers=headers
        )
        assert response.status_code in (200, 201), response.text
        return int(response.json()["version"])

    @asynccontextmanager
    async def events(
        self, headers: Headers, **params: str
    ) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[Sse]]]:
        async with self.http.stream(
            "GET",
            f"{self.url}/v1/events",
            params={"namespace": NAMESPACE, **params},
            headers=headers,
        ) as response:
            yield response, sse_blocks(response)


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Live]:
    """The service on a free port of 127.0.0.1, lifespan running, until the block ends."""
    app = build_app(settings)
    async with (
        served(app, graceful_shutdown_seconds=5, started_within=15, stopped_within=15) as running,
        httpx.AsyncClient(timeout=TIMEOUT) as http,
    ):
        yield Live(running.url, http)


def sqlite_settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=SecretStr(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")),
        events=events_settings(),
        **extra,
    )


@pytest.fixture(
    params=[
        pytest.param("embedded", id="embedded"),
        pytest.param("redis", id="redis", marks=pytest.mark.integration),
    ]
)
def backend_settings(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Settings]]:
    """Settings on SQLite with the in-memory stream, or with the test Redis."""
    if request.param == "embedded":
        yield lambda: sqlite_settings(tmp_path)
    else:
        redis: RedisSettings = request.getfixturevalue("redis_settings")
        yield lambda: sqlite_settings(tmp_path, redis=redis)


def names(events: list[Sse]) -> list[tuple[str, int]]:
    found = []
    for event in events:
        data = event.json()
        assert isinstance(data, dict)
        found.append((data["name"], data["version"]))
    return found


async def test_a_subscriber_sees_only_the_contexts_it_may_read(
    backend_settings: Callable[[], Settings],
) -> None:
    async with serving(backend_settings()) as live:
        async with live.events(BOB_READER) as (response, blocks):
            assert response.status_code == 200
            await anext(blocks)  # the stream is open
            await live.put("private", doc("alice only", []))
            await live.put("shared", doc("for bob", ["subject:bob"]))
            # Alice lets Bob read "private" (v2): from now on it is his to see.
            await live.put("private", doc("alice only", ["subject:bob"]))
            live_events = await next_events(blocks, 2)

        async with live.events(BOB_READER) as (_, blocks):  # replay: the retained history
            replay_shared = await next_events(blocks, 3)

        await live.put("private", doc("alice only", []))  # Bob off the ACL again (v3)
        await live.put("shared", doc("for bob, v2", ["subject:bob"]))
        async with live.events(BOB_READER) as (_, blocks):
            replay_hidden = await next_events(blocks, 2)

    # "private" v1 came first in the stream, and was not sent to Bob at all.
    assert names(live_events) == [("shared", 1), ("private", 2)]
    # The latest ACL governs the whole history: the replay shows every version of "private".
    assert names(replay_shared) == [("private", 1), ("shared", 1), ("private", 2)]
    # After Bob's removal, none of it: only "shared".
    assert names(replay_hidden) == [("shared", 1), ("shared", 2)]
    assert all(event.id for event in replay_hidden)


async def test_a_deleted_context_is_seen_by_whom_its_tombstone_allows(tmp_path: Path) -> None:
    async with serving(sqlite_settings(tmp_path)) as live:
        await live.put("gone", doc("x", ["subject:bob"]))
        deleted = await live.http.delete(f"{live.url}/v1/contexts/{NAMESPACE}/gone", headers=ALICE)
        assert deleted.status_code == 200, deleted.text
        await live.put("marker", doc("y", ["subject:bob"]))
        async with live.events(BOB_READER) as (_, blocks):
            seen = await next_events(blocks, 3)
        async with live.events(CAROL_READER) as (_, blocks):
            first_line = await anext(blocks)
            await live.put("for-carol", doc("z", ["subject:carol"]))
            carol = await next_events(blocks, 1)

    assert names(seen) == [("gone", 1), ("gone", 2), ("marker", 1)]
    assert first_line.comments == ["stream open"]
    assert names(carol) == [("for-carol", 1)]  # nothing of "gone" or "marker"


async def test_one_caller_past_its_limit_gets_429_and_others_are_unaffected(
    tmp_path: Path,
) -> None:
    async with (
        serving(sqlite_settings(tmp_path)) as live,
        live.events(BOB_READER) as (first, _),
        live.events(BOB_READER) as (second, _),
    ):
        assert (first.status_code, second.status_code) == (200, 200)
        refused = await live.http.get(
            f"{live.url}/v1/events", params={"namespace": NAMESPACE}, headers=BOB_READER
        )
        async with live.events(CAROL_READER) as (carol, blocks):
            assert carol.status_code == 200
            await anext(blocks)
            await live.put("shared", doc("for both", ["subject:bob", "subject:carol"]))
            delivered = await next_events(blocks, 1)

    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert int(refused.headers["retry-after"]) >= 1
    problem = refused.json()
    assert problem["type"] == "urn:slipway:problem:too-many-event-streams"
    assert (problem["status"], problem["scope"], problem["limit"]) == (429, "principal", PER_CALLER)
    assert names(delivered) == [("shared", 1)]


@asynccontextmanager
async def postgres_and_redis_settings(redis: RedisSettings) -> AsyncIterator[Settings]:
    async with throwaway_postgres_database(postgres_admin_url()) as database:
        yield Settings(
            environment=Environment.TEST,
            database=DatabaseSettings(
                url=SecretStr(database.url.render_as_string(hide_password=False))
            ),
            redis=redis,
            events=events_settings(poll_seconds=5.0),
        )


@pytest.mark.integration
async def test_a_put_reaches_a_subscriber_well_within_the_fallback_poll(
    redis_settings: RedisSettings,
) -> None:
    """The relay is woken by the commit (LISTEN/NOTIFY and the in-process signal), not by
    its 5 s poll: every change reaches the subscriber in a fraction of a second."""
    delays: list[float] = []
    async with (
        postgres_and_redis_settings(redis_settings) as settings,
        serving(settings) as live,
        live.events(ALICE) as (_, blocks),
    ):
        await anext(blocks)
        for index in range(5):
            started = time.monotonic()
            await live.put(f"c{index}", doc("x", []))
            (event,) = await next_events(blocks, 1)
            delays.append(time.monotonic() - started)
            assert names([event]) == [(f"c{index}", 1)]

    assert max(delays) < 0.5, delays


async def test_metrics_show_the_relay_and_the_hub(tmp_path: Path) -> None:
    async with (
        serving(sqlite_settings(tmp_path)) as live,
        live.events(BOB_READER) as (_, blocks),
    ):
        await anext(blocks)
        await live.put("shared", doc("x", ["subject:bob"]))
        await next_events(blocks, 1)
        metrics = (await live.http.get(f"{live.url}/metrics")).text

    # The families are process-wide (earlier tests' relays count in them too): present, up.
    published = re.search(
        r'^outbox_published_events_total\{relay="outbox-relay"\} (\S+)$', metrics, re.M
    )
    assert published is not None
    assert float(published.group(1)) >= 1
    assert 'outbox_relay_up{relay="outbox-relay"} 1.0' in metrics
    assert re.search(r'^stream_hub_subscribers\{hub="stream-hub"\} ', metrics, re.M)
