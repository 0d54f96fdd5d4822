"""contexts' HTTP change feed (`HttpSseFeed`) on a recorded event stream (parsed by httpx-sse),
and its checkpoint in search's database (migration 0002, SQLite)."""

import httpx
import orjson
import pytest

from search.adapters.change_feed import HttpSseFeed, SqlCheckpoints
from search.domain.indexer import FeedStart, FeedUnavailable
from search.domain.model import ContextRef
from slipway.db import Database


def change(name: str, version: int = 1) -> bytes:
    return orjson.dumps(
        {
            "type": "context.changed",
            "event_id": f"{name}-{version}",
            "namespace": "team-a",
            "name": name,
            "version": version,
            "action": "created",
            "etag": '"e"',
            "occurred_at": "2026-12-02T07:00:00+00:00",
            "actor": "alice",
        }
    )


# Recorded from contexts' GET /v1/events (every namespace): a comment, two changes, an event
# of another type, the close.
RECORDED = (
    b": stream open\r\nretry: 3000\r\n\r\n"
    b"id: 1700000000000-0\r\nevent: context.changed\r\ndata: " + change("a") + b"\r\n\r\n"
    b": ping\r\n\r\n"
    b"id: 1700000000001-0\r\nevent: context.changed\r\ndata: " + change("b") + b"\r\n\r\n"
    b"id: 1700000000002-0\r\nevent: something.else\r\ndata: {}\r\n\r\n"
    b'event: stream.closed\r\ndata: {"reason": "server shutting down"}\r\n\r\n'
)
HEADERS = {
    "content-type": "text/event-stream",
    "oldest-event-id": "1699999999999-0",
    "newest-event-id": "1700000000002-0",
}


@pytest.fixture
def checkpoints(sqlite_database: Database) -> SqlCheckpoints:
    return SqlCheckpoints(sqlite_database)


async def test_a_checkpoint_is_stored_and_replaced(checkpoints: SqlCheckpoints) -> None:
    assert await checkpoints.load("search:contexts") is None
    await checkpoints.save("search:contexts", "5-0")
    await checkpoints.save("search:contexts", "6-1")
    await checkpoints.save("other", "1-0")
    assert await checkpoints.load("search:contexts") == "6-1"
    assert await checkpoints.load("other") == "1-0"


def feed_on(
    checkpoints: SqlCheckpoints,
    status: int = 200,
    content: bytes = RECORDED,
    headers: dict[str, str] = HEADERS,
) -> tuple[HttpSseFeed, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, headers=headers, content=content)

    http = httpx.AsyncClient(base_url="http://contexts.test", transport=httpx.MockTransport(answer))
    return HttpSseFeed(http, checkpoints, feed="search:contexts"), seen


async def test_the_feed_says_what_contexts_keeps_and_where_it_stopped(
    checkpoints: SqlCheckpoints,
) -> None:
    feed, seen = feed_on(checkpoints)
    assert await feed.start() == FeedStart(
        position=None, oldest="1699999999999-0", newest="1700000000002-0"
    )
    assert "last-event-id" not in seen[0].headers
    await checkpoints.save("search:contexts", "1700000000000-0")
    start = await feed.start()
    assert start.position == "1700000000000-0"
    assert seen[1].headers["last-event-id"] == "1700000000000-0"


async def test_deliveries_are_the_changes_and_done_moves_the_checkpoint(
    checkpoints: SqlCheckpoints,
) -> None:
    feed, seen = feed_on(checkpoints)
    await feed.resume_from("1699999999999-0")  # e.g. after a backfill
    received = []
    async for delivery in feed.deliveries():  # ends at stream.closed
        received.append(delivery)
        await feed.done(delivery)
    assert seen[0].headers["last-event-id"] == "1699999999999-0"
    assert [d.position for d in received] == ["1700000000000-0", "1700000000001-0"]
    assert [d.notice.ref for d in received if d.notice] == [
        ContextRef("team-a", "a"),
        ContextRef("team-a", "b"),
    ]
    assert await checkpoints.load("search:contexts") == "1700000000001-0"
    await feed.start()
    assert seen[-1].headers["last-event-id"] == "1700000000001-0"  # a restart resumes there


async def test_a_refused_or_broken_feed_is_unavailable(checkpoints: SqlCheckpoints) -> None:
    refused, _ = feed_on(checkpoints, status=403)
    with pytest.raises(FeedUnavailable):
        await refused.start()

    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.AsyncClient(base_url="http://contexts.test", transport=httpx.MockTransport(broken))
    down = HttpSseFeed(http, checkpoints)
    with pytest.raises(FeedUnavailable):
        async for _ in down.deliveries():
            pass


async def test_the_stream_is_read_by_the_event_stream_rules(checkpoints: SqlCheckpoints) -> None:
    """Data over several lines is one JSON text; an id holding NUL is ignored (the last good
    id stays); an event with no id yet is skipped; LF line ends work as CRLF do."""
    first, second = change("a"), change("b", 2)
    split = second.replace(b'"namespace"', b'\ndata: "namespace"', 1)
    content = (
        b"event: context.changed\ndata: " + change("no-id") + b"\n\n"
        b"id: 5-0\nevent: context.changed\ndata: " + first + b"\n\n"
        b"id: 6\x00bad\nevent: context.changed\ndata: " + split + b"\n\n"
    )
    feed, _ = feed_on(checkpoints, content=content)
    received = [delivery async for delivery in feed.deliveries()]
    assert [d.position for d in received] == ["5-0", "5-0"]
    assert [(d.notice.ref.name, d.notice.version) for d in received if d.notice] == [
        ("a", 1),
        ("b", 2),
    ]


async def test_a_feed_that_is_not_an_event_stream_is_unavailable(
    checkpoints: SqlCheckpoints,
) -> None:
    feed, _ = feed_on(checkpoints, headers={"content-type": "text/html"})
    with pytest.raises(FeedUnavailable):
        async for _ in feed.deliveries():
            pass


async def test_a_crash_between_apply_and_checkpoint_redelivers_a_duplicate(
    sqlite_database: Database, checkpoints: SqlCheckpoints
) -> None:
    """The checkpoint is saved after the apply commits, in its own transaction: a crash in
    between leaves it behind (never ahead), and the event it redelivers is recognised by its
    id (recorded in the apply's transaction) and changes nothing."""
    from search.adapters.sql import SqlSearchIndex
    from search.tests.builders import indexed

    index = SqlSearchIndex(sqlite_database)
    feed, _ = feed_on(checkpoints)
    await feed.resume_from("1699999999999-0")
    applied = []
    async for delivery in feed.deliveries():
        assert delivery.notice is not None
        change = indexed(delivery.notice.ref.name, "first", version=delivery.notice.version)
        applied.append(await index.apply(delivery.notice.event_id, change))
        if len(applied) == 2:
            break  # crashed: the second is applied, its checkpoint not saved
        await feed.done(delivery)
    assert await checkpoints.load("search:contexts") == "1700000000000-0"

    restarted, seen = feed_on(checkpoints)
    assert (await restarted.start()).position == "1700000000000-0"
    async for delivery in restarted.deliveries():
        assert delivery.notice is not None
        change = indexed(delivery.notice.ref.name, "again", version=delivery.notice.version + 1)
        applied.append(await index.apply(delivery.notice.event_id, change))
        await restarted.done(delivery)
    assert seen[-1].headers["last-event-id"] == "1700000000000-0"
    # The recording replays a too (contexts would resume after it): both are duplicates.
    assert applied == [True, True, False, False]
    assert await index.indexed_version(ContextRef("team-a", "a")) == 1
    assert await index.indexed_version(ContextRef("team-a", "b")) == 1
