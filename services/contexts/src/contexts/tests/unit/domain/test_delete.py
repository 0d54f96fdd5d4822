"""DELETE: a tombstone version, kept in history."""

import asyncio

import pytest

from contexts.domain.errors import Forbidden, NotFound, PreconditionFailed
from contexts.domain.events import ChangeAction
from contexts.tests.unit.domain.builders import ADMIN, ALICE, BOB, CAROL, EVE, KEY, document
from contexts.tests.unit.domain.world import World


def test_delete_appends_a_tombstone_and_hides_the_context(world: World) -> None:
    v1 = asyncio.run(world.registry.put(ALICE, KEY, document())).context
    world.clock.advance()

    tombstone = asyncio.run(world.registry.delete(CAROL, KEY, request_id="r-del"))

    assert (tombstone.version, tombstone.deleted, tombstone.updated_by) == (2, True, "carol")
    assert tombstone.etag != v1.etag
    with pytest.raises(NotFound):
        asyncio.run(world.registry.get(ALICE, KEY))
    assert asyncio.run(world.registry.versions(ALICE, KEY)) == [v1, tombstone]
    assert asyncio.run(world.registry.get_version(ALICE, KEY, 1)) == v1


def test_delete_is_audited_and_announced(world: World) -> None:
    v1 = asyncio.run(world.registry.put(ALICE, KEY, document())).context

    tombstone = asyncio.run(world.registry.delete(ALICE, KEY, request_id="r-del"))

    entry = world.store.audit[-1]
    assert (entry.action, entry.version, entry.request_id) == (ChangeAction.DELETED, 2, "r-del")
    assert (entry.before_hash, entry.after_hash) == (v1.content_hash, tombstone.content_hash)
    assert (world.store.events[-1].action, world.store.events[-1].etag) == (
        ChangeAction.DELETED,
        tombstone.etag,
    )


def test_recreating_after_delete_continues_the_version_numbers(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document("one")))
    asyncio.run(world.registry.delete(ALICE, KEY))
    world.clock.advance(60)

    result = asyncio.run(world.registry.put(ALICE, KEY, document("one")))

    assert (result.created, result.changed, result.context.version) == (True, True, 3)
    assert result.context.created_at == world.clock.now()
    assert [c.version for c in world.store.versions[KEY]] == [1, 2, 3]
    assert [c.deleted for c in world.store.versions[KEY]] == [False, True, False]
    assert world.store.events[-1].action == ChangeAction.CREATED


def test_versions_only_ever_increase_across_every_kind_of_change(world: World) -> None:
    registry = world.registry
    asyncio.run(registry.put(ALICE, KEY, document("1")))
    asyncio.run(registry.patch(ALICE, KEY, {"content": "2"}))
    asyncio.run(registry.put(ALICE, KEY, document("2")))  # no-op
    asyncio.run(registry.delete(ALICE, KEY))
    asyncio.run(registry.put(ALICE, KEY, document("3")))

    versions = asyncio.run(registry.versions(ALICE, KEY))

    assert [c.version for c in versions] == [1, 2, 3, 4]
    assert [e.version for e in world.store.events] == [1, 2, 3, 4]


def test_deleting_twice_is_not_found(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document()))
    asyncio.run(world.registry.delete(ALICE, KEY))

    with pytest.raises(NotFound):
        asyncio.run(world.registry.delete(ALICE, KEY))
    assert len(world.store.versions[KEY]) == 2


def test_deleting_with_a_stale_etag_fails(world: World) -> None:
    stale = asyncio.run(world.registry.put(ALICE, KEY, document("1"))).context.etag
    asyncio.run(world.registry.put(ALICE, KEY, document("2")))

    with pytest.raises(PreconditionFailed):
        asyncio.run(world.registry.delete(ALICE, KEY, if_match=stale))


def test_a_reader_deleting_is_forbidden_and_a_stranger_is_not_found(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document()))

    with pytest.raises(Forbidden):
        asyncio.run(world.registry.delete(BOB, KEY))
    with pytest.raises(NotFound):
        asyncio.run(world.registry.delete(EVE, KEY))
    assert len(world.store.versions[KEY]) == 1


def test_a_deleted_name_stays_reserved_to_those_who_could_write_it(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document()))
    asyncio.run(world.registry.delete(ALICE, KEY))

    with pytest.raises(NotFound):
        asyncio.run(world.registry.put(EVE, KEY, document()))
    with pytest.raises(NotFound):
        asyncio.run(world.registry.versions(EVE, KEY))
    restored = asyncio.run(world.registry.put(ADMIN, KEY, document())).context
    assert restored.owner == "alice"
