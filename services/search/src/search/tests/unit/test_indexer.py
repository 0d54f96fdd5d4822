"""The indexer and the follower: search's real SQL index (SQLite), contexts replaced by
recorded responses, its stream by slipway.events' in-memory stream (Redis semantics).

What is checked: a change becomes the indexed form (text, labels, ACL); a deletion or a 404
removes; a repeated delivery is applied once; the follower backfills on first start and
continues from the position taken before the backfill; it resumes after a restart where it
stopped; it backfills again when its position is behind the stream's retention or its group
is gone.
"""

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from search.adapters.change_feed import RedisGroupFeed
from search.adapters.sql import SqlSearchIndex
from search.domain.indexer import (
    ChangeNotice,
    FeedStart,
    Follower,
    Indexer,
    MalformedContextError,
    SourceUnavailable,
    backfill_reason,
    change_of,
    parse_notice,
    searchable_text,
)
from search.domain.model import ContextRef, IndexedContext, Removal, SearchQuery
from search.tests.builders import ROOT
from slipway.db import Database
from slipway.events import Event, InMemoryEventStream

ALL = "@all"
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RUNBOOK = ContextRef("team-a", "runbook")


def representation(
    ref: ContextRef, version: int = 1, *, content: str = "How to deploy", deleted: bool = False
) -> dict[str, Any]:
    """A context as contexts' `GET /v1/contexts/{namespace}/{name}` renders it (recorded)."""
    return {
        "namespace": ref.namespace,
        "name": ref.name,
        "version": version,
        "kind": "document",
        "schema_version": 1,
        "body": {"content": content, "format": "markdown", "title": None, "n": 3},
        "labels": {"team": "a"},
        "owner": "alice",
        "acl": {"readers": ["subject:bob"], "writers": ["group:editors"]},
        "deleted": deleted,
        "created_at": "2026-12-02T11:00:00Z",
        "updated_at": "2026-12-02T11:59:00Z",
        "updated_by": "alice",
        "etag": '"abc"',
    }


def changed(
    ref: ContextRef, version: int = 1, *, action: str = "updated", event_id: str | None = None
) -> dict[str, Any]:
    """contexts' `context.changed` payload (its ContextChanged JSON)."""
    return {
        "type": "context.changed",
        "event_id": event_id or str(uuid.uuid4()),
        "namespace": ref.namespace,
        "name": ref.name,
        "version": version,
        "action": action,
        "etag": '"abc"',
        "occurred_at": "2026-12-02T11:59:59+00:00",
        "actor": "alice",
    }


class RecordedContexts:
    """The ContextSource port on recorded representations (contexts is another service)."""

    def __init__(self) -> None:
        self.contexts: dict[ContextRef, dict[str, Any]] = {}
        self.failures_left = 0
        self.fetches: list[ContextRef] = []
        self.catalog_pages = 0

    def put(self, ref: ContextRef, version: int = 1, content: str = "How to deploy") -> None:
        self.contexts[ref] = representation(ref, version, content=content)

    async def current(self, ref: ContextRef) -> Mapping[str, Any] | None:
        if self.failures_left > 0:
            self.failures_left -= 1
            raise SourceUnavailable("contexts is down")
        self.fetches.append(ref)
        return self.contexts.get(ref)

    async def catalog(self, cursor: str | None) -> tuple[Sequence[Mapping[str, Any]], str | None]:
        self.catalog_pages += 1
        ordered = sorted(self.contexts.values(), key=lambda c: (c["namespace"], c["name"]))
        start = int(cursor or 0)
        page = ordered[start : start + 2]
        following = str(start + 2) if start + 2 < len(ordered) else None
        return page, following


class CountingMetrics:
    def __init__(self) -> None:
        self.lags: list[float] = []
        self.duplicates = 0
        self.failures: list[str] = []
        self.backfills: list[int] = []
        self.removed: list[int] = []

    def applied(self, lag_seconds: float) -> None:
        self.lags.append(lag_seconds)

    def duplicate(self) -> None:
        self.duplicates += 1

    def failed(self, reason: str) -> None:
        self.failures.append(reason)

    def backfilled(self, contexts: int) -> None:
        self.backfills.append(contexts)

    def backfill_removed(self, contexts: int) -> None:
        self.removed.append(contexts)


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
def index(sqlite_database: Database) -> SqlSearchIndex:
    return SqlSearchIndex(sqlite_database)


@pytest.fixture
def contexts() -> RecordedContexts:
    return RecordedContexts()


@pytest.fixture
def metrics() -> CountingMetrics:
    return CountingMetrics()


@pytest.fixture
def indexer(index: SqlSearchIndex, contexts: RecordedContexts, metrics: CountingMetrics) -> Indexer:
    return Indexer(index, contexts, metrics, clock=lambda: NOW, sleep=no_sleep)


def notice(ref: ContextRef, version: int = 1, action: str = "updated") -> ChangeNotice:
    parsed = parse_notice(changed(ref, version, action=action))
    assert parsed is not None
    return parsed


# -- the pure parts ----------------------------------------------------------------------


def test_a_notice_is_read_from_contexts_event_and_anything_else_is_none() -> None:
    payload = changed(RUNBOOK, 3, action="deleted", event_id="e-1")
    parsed = parse_notice(payload)
    assert parsed == ChangeNotice(
        event_id="e-1",
        ref=RUNBOOK,
        version=3,
        deleted=True,
        occurred_at=datetime(2026, 12, 2, 11, 59, 59, tzinfo=UTC),
    )
    assert parse_notice({**payload, "type": "item.created"}) is None
    assert parse_notice({**payload, "version": "3"}) is None
    assert parse_notice({**payload, "version": True}) is None
    assert parse_notice({key: v for key, v in payload.items() if key != "name"}) is None
    assert parse_notice({**payload, "occurred_at": "2026-12-02T11:59:59"}) is None  # naive


def test_the_text_is_the_name_labels_and_every_string_of_the_body() -> None:
    body = {"content": "Deploy", "steps": [{"say": "roll back"}, 7, True, None], "k": " "}
    text = searchable_text("runbook", {"team": "a", "env": "prod"}, body)
    assert text.splitlines() == ["runbook", "env prod", "team a", "Deploy", "roll back"]


def test_a_representation_becomes_the_indexed_context_with_its_acl() -> None:
    change = change_of(representation(RUNBOOK, 4))
    assert change == IndexedContext(
        ref=RUNBOOK,
        version=4,
        kind="document",
        labels={"team": "a"},
        owner="alice",
        readers=frozenset({"subject:bob"}),
        writers=frozenset({"group:editors"}),
        text="runbook\nteam a\nHow to deploy\nmarkdown",
        updated_at=datetime(2026, 12, 2, 11, 59, tzinfo=UTC),
    )
    assert change_of(representation(RUNBOOK, 5, deleted=True)) == Removal(RUNBOOK, 5)


def test_a_representation_that_is_not_one_is_malformed() -> None:
    for broken in (
        {"namespace": "team-a"},
        {**representation(RUNBOOK), "version": "1"},
        {**representation(RUNBOOK), "acl": {"readers": "subject:bob"}},
        {**representation(RUNBOOK), "updated_at": "yesterday"},
    ):
        with pytest.raises(MalformedContextError):
            change_of(broken)
    with pytest.raises(MalformedContextError):
        change_of(representation(RUNBOOK), expected=ContextRef("team-b", "runbook"))


@pytest.mark.parametrize(
    ("start", "reason"),
    [
        (FeedStart(position=None, oldest=None, newest="0-0"), "no-position"),
        (FeedStart(position="5-0", oldest="3-0", newest="9-0"), None),
        (FeedStart(position="5-0", oldest="5-0", newest="5-0"), None),
        (FeedStart(position="5-0", oldest="6-0", newest="9-0"), "behind-retention"),
        (FeedStart(position="5-0", oldest=None, newest="0-0"), "stream-reset"),
        (FeedStart(position="0-0", oldest=None, newest="0-0"), None),
        (FeedStart(position="0-0", oldest="3-0", newest="9-0"), None),
    ],
)
def test_when_the_follower_must_backfill(start: FeedStart, reason: str | None) -> None:
    assert backfill_reason(start) == reason


# -- the indexer on the real index ------------------------------------------------------


async def test_an_event_indexes_the_context_as_contexts_has_it_now(
    indexer: Indexer, index: SqlSearchIndex, contexts: RecordedContexts, metrics: CountingMetrics
) -> None:
    contexts.put(RUNBOOK, version=2)
    assert await indexer.apply(notice(RUNBOOK, 1)) is True
    assert await index.indexed_version(RUNBOOK) == 2  # what it is now, not the event's version
    assert metrics.lags == [1.0]  # occurred 11:59:59, applied at 12:00:00


async def test_a_repeated_delivery_is_applied_once(
    indexer: Indexer, index: SqlSearchIndex, contexts: RecordedContexts, metrics: CountingMetrics
) -> None:
    contexts.put(RUNBOOK)
    once = notice(RUNBOOK)
    assert await indexer.apply(once) is True
    assert await indexer.apply(once) is False
    assert metrics.duplicates == 1
    assert len(metrics.lags) == 1
    assert await index.count() == 1


async def test_a_deletion_or_a_404_removes_the_context(
    indexer: Indexer, index: SqlSearchIndex, contexts: RecordedContexts
) -> None:
    other = ContextRef("team-a", "other")
    contexts.put(RUNBOOK)
    contexts.put(other)
    await indexer.apply(notice(RUNBOOK))
    await indexer.apply(notice(other))
    assert await indexer.apply(notice(RUNBOOK, 2, action="deleted")) is True
    assert contexts.fetches == [RUNBOOK, other]  # a deletion needs no fetch
    del contexts.contexts[other]
    assert await indexer.apply(notice(other, 2)) is True  # gone since: 404
    assert await index.count() == 0


async def test_an_unavailable_contexts_is_retried_until_it_answers(
    indexer: Indexer, index: SqlSearchIndex, contexts: RecordedContexts, metrics: CountingMetrics
) -> None:
    contexts.put(RUNBOOK)
    contexts.failures_left = 3
    assert await indexer.apply_until_done(notice(RUNBOOK)) is True
    assert metrics.failures == ["unavailable"] * 3
    assert indexer.last_failure is None
    assert await index.indexed_version(RUNBOOK) == 1


async def test_a_malformed_answer_is_skipped_not_retried_for_ever(
    indexer: Indexer, contexts: RecordedContexts, metrics: CountingMetrics
) -> None:
    contexts.contexts[RUNBOOK] = {"namespace": "team-a", "name": "runbook"}
    assert await indexer.apply_until_done(notice(RUNBOOK)) is False
    assert metrics.failures == ["malformed"]


async def test_a_backfill_puts_every_page_of_the_catalog(
    indexer: Indexer, index: SqlSearchIndex, contexts: RecordedContexts, metrics: CountingMetrics
) -> None:
    for n in range(5):
        contexts.put(ContextRef(f"team-{n % 2}", f"c{n}"))
    assert await indexer.backfill() == 5
    assert contexts.catalog_pages == 3
    assert await index.count() == 5
    assert metrics.backfills == [5]


# -- the follower on a stream with Redis semantics ---------------------------------------


class Harness:
    """contexts' aggregate stream, recorded contexts, and search's index and followers."""

    def __init__(self, index: SqlSearchIndex, contexts: RecordedContexts, maxlen: int) -> None:
        self.stream = InMemoryEventStream(aggregate=ALL, maxlen=maxlen)
        self.index = index
        self.contexts = contexts
        self.metrics = CountingMetrics()

    async def write(self, ref: ContextRef, version: int, *, event_id: str | None = None) -> None:
        """What contexts does on a write: the new version, and its event on the streams."""
        self.contexts.put(ref, version, content=f"version {version}")
        payload = changed(ref, version, event_id=event_id)
        await self.stream.publish(
            [Event(stream=ref.namespace, type="context.changed", payload=payload, key=ref.name)]
        )

    def follower(self) -> tuple[Follower, RedisGroupFeed]:
        feed = RedisGroupFeed(
            self.stream, stream=ALL, group="search", consumer="search-1", block_ms=20
        )
        indexer = Indexer(
            self.index, self.contexts, self.metrics, clock=lambda: NOW, sleep=no_sleep
        )
        return Follower(indexer, feed, sleep=no_sleep), feed

    async def follow_until(self, applied: int, *, within: float = 5.0) -> None:
        """Run a follower until `applied` more events were applied, then stop it."""
        target = len(self.metrics.lags) + applied
        follower, feed = self.follower()
        task = asyncio.create_task(follower.follow_once())
        try:
            async with asyncio.timeout(within):
                while not follower.connected or len(self.metrics.lags) < target:  # noqa: ASYNC110 - a test's poll
                    await asyncio.sleep(0.01)
        finally:
            feed.stop()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


@pytest.fixture
def harness(index: SqlSearchIndex, contexts: RecordedContexts) -> Harness:
    return Harness(index, contexts, maxlen=1_000)


async def test_first_start_backfills_then_follows_from_before_the_backfill(
    harness: Harness, index: SqlSearchIndex
) -> None:
    old = ContextRef("team-a", "old")
    await harness.write(old, 1)  # written before search ever ran: in the stream and catalog
    new = ContextRef("team-b", "new")
    follower, feed = harness.follower()
    task = asyncio.create_task(follower.follow_once())
    async with asyncio.timeout(5):
        while harness.metrics.backfills == []:  # noqa: ASYNC110 - a test's poll
            await asyncio.sleep(0.01)
    await harness.write(new, 1)
    async with asyncio.timeout(5):
        while await index.indexed_version(new) is None:  # noqa: ASYNC110 - a test's poll
            await asyncio.sleep(0.01)
    feed.stop()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert harness.metrics.backfills == [1]
    assert await index.indexed_version(old) == 1
    # Only the event after the backfill's starting point was delivered, not `old`'s.
    assert harness.contexts.fetches == [new]


async def test_a_restarted_follower_resumes_where_it_stopped(
    harness: Harness, index: SqlSearchIndex
) -> None:
    a, b = ContextRef("team-a", "a"), ContextRef("team-a", "b")
    await harness.write(a, 1)
    await harness.follow_until(0)  # first start: backfill, nothing more
    await harness.write(a, 2)
    await harness.follow_until(1)
    await harness.write(b, 1)  # while search is down
    await harness.write(a, 3)
    harness.contexts.fetches.clear()
    await harness.follow_until(2)  # restarted
    assert harness.contexts.fetches == [b, a]
    assert harness.metrics.backfills == [1]  # never again
    assert await index.indexed_version(a) == 3
    assert harness.stream.pending_count(ALL, "search") <= 1  # only the last one, unacked


async def test_a_redelivered_event_is_applied_once(harness: Harness, index: SqlSearchIndex) -> None:
    await harness.follow_until(0)
    await harness.write(RUNBOOK, 1, event_id="same-event")
    await harness.write(RUNBOOK, 1, event_id="same-event")  # the relay published it twice
    await harness.write(RUNBOOK, 2)
    await harness.follow_until(2)
    assert harness.metrics.duplicates == 1
    assert await index.indexed_version(RUNBOOK) == 2


async def test_behind_the_retention_the_follower_backfills_again(
    index: SqlSearchIndex, contexts: RecordedContexts
) -> None:
    harness = Harness(index, contexts, maxlen=5)
    await harness.write(RUNBOOK, 1)
    await harness.follow_until(0)
    await harness.write(RUNBOOK, 2)
    await harness.follow_until(1)
    for n in range(20):  # search down; the stream trims past its position
        await harness.write(ContextRef("team-b", f"c{n}"), 1)
    _, feed = harness.follower()
    start = await feed.start()
    assert backfill_reason(start) == "behind-retention"
    await harness.follow_until(0)
    assert harness.metrics.backfills == [1, 21]
    assert await index.count() == 21


async def test_a_deleted_group_is_a_backfill_too(harness: Harness) -> None:
    await harness.write(RUNBOOK, 1)
    await harness.follow_until(0)
    harness.stream._streams[ALL].groups.clear()  # XGROUP DESTROY
    await harness.follow_until(0)
    assert harness.metrics.backfills == [1, 1]


# -- a backfill removes what contexts deleted while search was behind ---------------------


async def test_a_backfill_removes_contexts_deleted_while_behind_the_retention(
    index: SqlSearchIndex, contexts: RecordedContexts
) -> None:
    harness = Harness(index, contexts, maxlen=5)
    gone = ContextRef("team-a", "gone")
    await harness.write(RUNBOOK, 1)
    await harness.write(gone, 1)
    await harness.follow_until(0)  # first start: both backfilled
    assert await index.indexed_version(gone) == 1
    # search down: `gone` deleted in contexts, its event trimmed away by 20 more writes
    del contexts.contexts[gone]
    deleted = changed(gone, 2, action="deleted")
    await harness.stream.publish(
        [Event(stream=gone.namespace, type="context.changed", payload=deleted, key=gone.name)]
    )
    for n in range(20):
        await harness.write(ContextRef("team-b", f"c{n}"), 1)
    await harness.follow_until(0)  # behind the retention: backfill again

    assert harness.metrics.backfills == [2, 21]
    assert harness.metrics.removed == [0, 1]
    assert await index.indexed_version(gone) is None
    assert await index.latest_version(gone) == 1  # a tombstone at the version it had
    assert await index.indexed_version(RUNBOOK) == 1
    assert await index.count() == 21
    await index.put(change_of(representation(gone, 1)))
    assert await index.indexed_version(gone) is None  # a late put of that version: still gone


class CatalogWithEvents(RecordedContexts):
    """contexts while a backfill pages: `during(page)` runs before a page is answered (other
    writers, and another search instance applying their events)."""

    def __init__(self) -> None:
        super().__init__()
        self.during: dict[int, Any] = {}

    async def catalog(self, cursor: str | None) -> tuple[Sequence[Mapping[str, Any]], str | None]:
        """Pages of two after the cursor's (namespace, name), as contexts' catalog pages."""
        self.catalog_pages += 1
        action = self.during.get(self.catalog_pages)
        if action is not None:
            await action()
        after = tuple(cursor.split("/")) if cursor else ("", "")
        keys = sorted((ref.namespace, ref.name) for ref in self.contexts)
        page = [key for key in keys if key > after][:2]
        following = "/".join(page[-1]) if len(page) == 2 and page[-1] != keys[-1] else None
        return [self.contexts[ContextRef(*key)] for key in page], following


async def test_what_an_event_indexes_during_a_backfill_is_not_removed(
    index: SqlSearchIndex,
) -> None:
    """`early` is created behind the pass (before its cursor) and `late_gone` deleted ahead of
    it, both while the backfill pages; another instance applies their events meanwhile. The
    catalog lists neither; only the context that was gone before is removed."""
    source = CatalogWithEvents()
    metrics = CountingMetrics()
    indexer = Indexer(index, source, metrics, clock=lambda: NOW, sleep=no_sleep)
    other = Indexer(index, source, CountingMetrics(), clock=lambda: NOW, sleep=no_sleep)
    stale, early = ContextRef("team-0", "stale"), ContextRef("team-a", "a0")
    late_gone = ContextRef("team-z", "z")
    for name in ("b", "c", "d"):
        source.put(ContextRef("team-a", name))
    source.put(late_gone)
    await index.put(change_of(representation(stale)))  # indexed once, deleted since
    await index.put(change_of(representation(late_gone)))

    async def writes_behind_the_pass() -> None:
        source.put(early)
        assert await other.apply(notice(early)) is True
        source.put(late_gone, 2)
        assert await other.apply(notice(late_gone, 2)) is True
        del source.contexts[late_gone]  # deleted before the pass reaches it; event follows

    source.during[2] = writes_behind_the_pass
    assert await indexer.backfill() == 3  # b, c, d

    assert metrics.removed == [1]
    assert await index.indexed_version(stale) is None
    assert await index.indexed_version(early) == 1
    assert await index.indexed_version(late_gone) == 2  # written in the backfill: its
    # deletion event, after the backfill's starting position, removes it


async def test_a_malformed_item_keeps_its_context_and_an_unnamed_one_removes_nothing(
    index: SqlSearchIndex, contexts: RecordedContexts, indexer: Indexer, metrics: CountingMetrics
) -> None:
    broken, stale = ContextRef("team-a", "broken"), ContextRef("team-a", "stale")
    await index.put(change_of(representation(broken)))
    await index.put(change_of(representation(stale)))
    contexts.put(RUNBOOK)
    contexts.contexts[broken] = {**representation(broken, 2), "version": "2"}
    assert await indexer.backfill() == 1
    assert metrics.removed == [1]
    assert await index.indexed_version(broken) == 1  # listed, though not indexable
    assert await index.indexed_version(stale) is None

    await index.put(change_of(representation(stale, 3)))
    unnamed = {"namespace": "team-zz", "name": 5, "version": "x"}  # no name to keep
    contexts.contexts[ContextRef("team-zz", "5")] = unnamed
    assert await indexer.backfill() == 1
    assert metrics.removed == [1]  # an incomplete pass removes nothing
    assert await index.indexed_version(stale) == 3


async def test_a_backfill_marks_unchanged_contexts_without_reindexing_their_text(
    index: SqlSearchIndex, contexts: RecordedContexts, indexer: Indexer
) -> None:
    contexts.put(RUNBOOK, content="rollback steps")
    await indexer.backfill()
    await indexer.backfill()  # nothing changed: every row only marked listed
    page = await index.search(SearchQuery(text="rollback"), ROOT)
    assert [hit.ref for hit in page.hits] == [RUNBOOK]
    assert await index.count() == 1
