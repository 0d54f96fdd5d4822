"""A backfill's removals (migration 0003's generations), on SQLite and on PostgreSQL.

A backfill begins a generation, puts what contexts' catalog lists, then tombstones the live
rows that were neither listed nor written since it began: the contexts deleted while search
was behind the stream's retention, whose deletion events are gone.
"""

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from search.adapters.sql import SqlSearchIndex
from search.domain.indexer import Indexer
from search.domain.model import ContextRef, SearchQuery
from search.tests.builders import ROOT, indexed, removal

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def ref(name: str) -> ContextRef:
    return ContextRef("team-a", name)


async def found(index: SqlSearchIndex, text: str) -> list[str]:
    page = await index.search(SearchQuery(text=text, limit=100), ROOT)
    return sorted(hit.ref.name for hit in page.hits)


async def test_the_unlisted_are_removed_and_what_was_written_since_stays(
    index: SqlSearchIndex,
) -> None:
    await index.put(indexed("listed", "alpha listed", version=3))
    await index.put(indexed("deleted", "alpha deleted", version=2))
    await index.put(removal("tombstone", version=4))

    generation = await index.begin_backfill()
    await index.put(indexed("listed", "alpha listed", version=3))  # unchanged: only marked
    await index.put(indexed("listed", "alpha older", version=1))  # older: only marked
    assert await index.apply("event-1", indexed("created", "alpha created"))  # an event meanwhile
    assert await index.remove_unlisted(generation) == 1

    assert await found(index, "alpha") == ["created", "listed"]
    assert await index.indexed_version(ref("deleted")) is None
    assert await index.latest_version(ref("deleted")) == 2  # tombstoned at the version it had
    assert await index.latest_version(ref("tombstone")) == 4
    assert await index.count() == 2

    await index.put(indexed("deleted", "alpha deleted", version=2))  # late, same version
    assert await found(index, "deleted") == []
    await index.put(indexed("deleted", "alpha recreated", version=3))  # created again
    assert await found(index, "recreated") == ["deleted"]

    second = await index.begin_backfill()
    assert second > generation
    assert await index.remove_unlisted(second) == 3  # an empty catalog: nothing stays
    assert await index.count() == 0
    assert await found(index, "alpha") == []


async def test_a_concurrent_backfill_never_removes_what_the_other_listed(
    index: SqlSearchIndex,
) -> None:
    await index.put(indexed("a", "alpha"))
    await index.put(indexed("b", "alpha"))
    first = await index.begin_backfill()
    second = await index.begin_backfill()  # another instance's, started meanwhile
    await index.put(indexed("a", "alpha"))  # listed by the first pass (after both began)
    assert await index.remove_unlisted(second) == 1  # b: listed by neither since
    assert await index.remove_unlisted(first) == 0
    assert await found(index, "alpha") == ["a"]


class Catalog:
    """contexts' catalog: live contexts in (namespace, name) order, pages of two."""

    def __init__(self, *names: str) -> None:
        self.items = {
            name: {
                "namespace": "team-a",
                "name": name,
                "version": 1,
                "kind": "document",
                "body": {"content": f"beta {name}"},
                "labels": {},
                "owner": "alice",
                "acl": {"readers": [], "writers": []},
                "deleted": False,
                "updated_at": "2026-12-02T11:59:00Z",
            }
            for name in names
        }

    async def current(self, context: ContextRef) -> Mapping[str, Any] | None:
        return self.items.get(context.name)

    async def catalog(self, cursor: str | None) -> tuple[Sequence[Mapping[str, Any]], str | None]:
        names = [name for name in sorted(self.items) if cursor is None or name > cursor]
        page = names[:2]
        following = page[-1] if len(names) > 2 else None
        return [self.items[name] for name in page], following


class Metrics:
    def __init__(self) -> None:
        self.removed: list[int] = []

    def applied(self, lag_seconds: float) -> None: ...

    def duplicate(self) -> None: ...

    def failed(self, reason: str) -> None: ...

    def backfilled(self, contexts: int) -> None: ...

    def backfill_removed(self, contexts: int) -> None:
        self.removed.append(contexts)


async def no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


async def test_a_second_backfill_removes_what_contexts_deleted_meanwhile(
    index: SqlSearchIndex,
) -> None:
    source, metrics = Catalog("a", "b", "c", "d", "e"), Metrics()
    indexer = Indexer(index, source, metrics, clock=lambda: NOW, sleep=no_sleep)
    assert await indexer.backfill() == 5
    del source.items["b"], source.items["e"]  # deleted while search was behind
    assert await indexer.backfill() == 3
    assert metrics.removed == [0, 2]
    assert await found(index, "beta") == ["a", "c", "d"]


@pytest.mark.integration
async def test_postgres_spares_a_row_an_event_writes_while_the_removal_runs(
    postgres_url: str,
) -> None:
    """The removal waits for a write in flight on a row; once the write commits (stamped
    with the backfill's generation) the row is re-checked and stays."""
    from search.migrations import MIGRATIONS_DIR
    from slipway.db.testing import throwaway_postgres_database

    async with throwaway_postgres_database(postgres_url, migrations_dir=MIGRATIONS_DIR) as db:
        index = SqlSearchIndex(db)
        await index.put(indexed("busy", "gamma old"))
        await index.put(indexed("idle", "gamma idle"))
        generation = await index.begin_backfill()
        async with db.engine.connect() as writer:
            await writer.execute(
                sa.text(
                    "UPDATE search_contexts SET version = 2, text = 'gamma fresh', generation = "
                    "(SELECT max(id) FROM search_backfills) WHERE name = 'busy'"
                )
            )
            removal_task = asyncio.create_task(index.remove_unlisted(generation))
            await asyncio.sleep(0.5)
            assert not removal_task.done()  # waiting for the writer's row lock
            await writer.commit()
        assert await removal_task == 1
        assert await found(index, "gamma") == ["busy"]
        assert await index.indexed_version(ref("busy")) == 2


async def test_migration_0003_goes_down_and_up_keeping_the_index_searchable(
    index: SqlSearchIndex,
) -> None:
    """Down to 0002 (generations dropped, SQLite's trigger on any update again) and back up:
    the rows and their full-text index stay in step."""
    from search.migrations import MIGRATIONS_DIR
    from slipway.db.migrations import current_revision, downgrade, upgrade

    await index.put(indexed("kept", "delta kept"))
    url = index._database.url
    await downgrade(url, MIGRATIONS_DIR, "0002")
    assert await current_revision(url, MIGRATIONS_DIR) == "0002"
    await upgrade(url, MIGRATIONS_DIR)
    await index.put(indexed("kept", "delta changed", version=2))
    await index.put(indexed("kept", "delta changed", version=2))  # only marked
    assert await found(index, "changed") == ["kept"]
    assert await found(index, "delta") == ["kept"]
    generation = await index.begin_backfill()
    assert await index.remove_unlisted(generation) == 1
    assert await found(index, "delta") == []
