"""Writes that lose a version race run again on the latest version (`WriteRetry`).

A rival commits between the slower write's read and its append, so the append is `Conflict`:
a plain PUT or PATCH then succeeds on the rival's version, a conditional one answers with its
precondition (412), and only a write that loses every attempt gets `Conflict` (409). Each
attempt is its own unit of work: a lost one leaves no version, audit entry or event.
"""

import asyncio
from collections.abc import Callable
from itertools import count
from uuid import UUID

import pytest

from contexts.domain.builtin_kinds import default_kinds
from contexts.domain.errors import Conflict, NotFound, PreconditionFailed
from contexts.domain.model import Actor
from contexts.domain.retry import WriteRetry
from contexts.domain.service import ContextRegistry
from contexts.tests.unit.domain.builders import ALICE, CAROL, KEY, document
from contexts.tests.unit.domain.fakes import FixedClock, InMemoryStore
from contexts.tests.unit.domain.world import World, make_world


class RecordedBackoff:
    """A Backoff that records the retries it was asked to pause before, and returns at once."""

    def __init__(self) -> None:
        self.retries: list[int] = []

    async def pause(self, retry: int) -> None:
        self.retries.append(retry)


def registry_on(store: InMemoryStore, retry: WriteRetry) -> ContextRegistry:
    ids = count(1)
    return ContextRegistry(
        store.unit_of_work,
        default_kinds(),
        FixedClock(),
        new_id=lambda: UUID(int=next(ids)),
        write_retry=retry,
    )


def rival_writes_once(world: World, actor: Actor = CAROL) -> None:
    """Right after the next read, another writer (a writer of ALICE's) commits "rival"."""
    rival = make_world(world.store)

    async def write() -> None:
        await rival.registry.put(actor, KEY, document("rival"))

    world.store.after_next_get = write


def rival_writes_every_time(store: InMemoryStore) -> Callable[[], int]:
    """After every read from now on, another writer commits a new version; how many so far."""
    rival = make_world(store)
    written = count(1)
    total = [0]

    async def write() -> None:
        total[0] = next(written)
        await rival.registry.put(CAROL, KEY, document(f"rival {total[0]}"))
        store.after_next_get = write

    store.after_next_get = write
    return lambda: total[0]


def contents(world: World) -> list[object]:
    return [context.body["content"] for context in world.store.versions[KEY]]


def test_a_plain_put_that_lost_the_race_replaces_the_rivals_version(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document("one")))
    rival_writes_once(world)

    result = asyncio.run(world.registry.put(ALICE, KEY, document("slow")))

    assert result.context.version == 3
    assert (result.created, result.changed) == (False, True)
    assert contents(world) == ["one", "rival", "slow"]
    # One audit entry and one event per version: the lost attempt left nothing.
    assert [entry.version for entry in world.store.audit] == [1, 2, 3]
    assert [event.version for event in world.store.events] == [1, 2, 3]


def test_a_plain_patch_that_lost_the_race_merges_onto_the_rivals_version(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document("one")))
    rival_writes_once(world)

    result = asyncio.run(world.registry.patch(ALICE, KEY, {}, labels_patch={"slow": "yes"}))

    assert result.context.version == 3
    assert result.context.body["content"] == "rival"  # the rival's change is kept
    assert result.context.labels == {"slow": "yes"}
    assert [entry.version for entry in world.store.audit] == [1, 2, 3]


def test_a_put_with_if_match_that_lost_the_race_fails_its_precondition(world: World) -> None:
    first = asyncio.run(world.registry.put(ALICE, KEY, document("one")))
    rival_writes_once(world)

    with pytest.raises(PreconditionFailed):
        asyncio.run(world.registry.put(ALICE, KEY, document("slow"), if_match=first.context.etag))

    assert contents(world) == ["one", "rival"]
    assert len(world.store.audit) == len(world.store.events) == 2


def test_a_create_only_put_that_lost_the_race_fails_its_precondition(world: World) -> None:
    rival_writes_once(world, actor=ALICE)

    with pytest.raises(PreconditionFailed):
        asyncio.run(world.registry.put(ALICE, KEY, document("slow"), if_none_match="*"))

    assert contents(world) == ["rival"]


def test_a_delete_that_lost_the_race_to_another_delete_is_not_found(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document("one")))
    rival = make_world(world.store)

    async def rival_deletes() -> None:
        await rival.registry.delete(ALICE, KEY)

    world.store.after_next_get = rival_deletes

    with pytest.raises(NotFound):
        asyncio.run(world.registry.delete(ALICE, KEY))

    assert [context.deleted for context in world.store.versions[KEY]] == [False, True]


def test_a_write_that_loses_every_attempt_is_a_conflict_and_leaves_nothing() -> None:
    store = InMemoryStore()
    backoff = RecordedBackoff()
    registry = registry_on(store, WriteRetry(attempts=4, backoff=backoff))
    asyncio.run(registry.put(ALICE, KEY, document("one")))
    rivals = rival_writes_every_time(store)

    with pytest.raises(Conflict):
        asyncio.run(registry.put(ALICE, KEY, document("slow")))

    assert rivals() == 4  # one rival per attempt: 4 attempts in all
    versions = store.versions[KEY]
    assert [context.body["content"] for context in versions] == [
        "one",
        "rival 1",
        "rival 2",
        "rival 3",
        "rival 4",
    ]
    assert [entry.version for entry in store.audit] == [1, 2, 3, 4, 5]
    assert [event.version for event in store.events] == [1, 2, 3, 4, 5]
    assert backoff.retries == [1, 2, 3]  # a pause before each further attempt


def test_one_attempt_means_no_retry() -> None:
    store = InMemoryStore()
    backoff = RecordedBackoff()
    registry = registry_on(store, WriteRetry(attempts=1, backoff=backoff))
    asyncio.run(registry.put(ALICE, KEY, document("one")))
    rival_writes_every_time(store)

    with pytest.raises(Conflict):
        asyncio.run(registry.put(ALICE, KEY, document("slow")))

    assert backoff.retries == []


def test_fewer_than_one_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WriteRetry(attempts=0)
