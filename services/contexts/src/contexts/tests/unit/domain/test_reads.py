"""GET, versions and audit: who sees what, and NotFound that reveals nothing."""

import asyncio

import pytest

from contexts.domain.errors import Forbidden, NotFound
from contexts.domain.events import ChangeAction
from contexts.domain.model import Acl, Actor
from contexts.domain.policy import WRITE_SCOPE
from contexts.tests.unit.domain.builders import ADMIN, ALICE, BOB, CAROL, EVE, KEY, document
from contexts.tests.unit.domain.world import World

OTHER_KEY = KEY.model_copy(update={"name": "never-created"})


@pytest.mark.parametrize(
    "actor", [ALICE, BOB, CAROL, ADMIN], ids=["owner", "reader", "writer", "admin"]
)
def test_owner_readers_writers_and_admins_can_get(world: World, actor: Actor) -> None:
    created = asyncio.run(world.registry.put(ALICE, KEY, document())).context

    assert asyncio.run(world.registry.get(actor, KEY)) == created


def test_a_stranger_gets_the_same_not_found_as_for_a_missing_context(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document()))

    with pytest.raises(NotFound) as hidden:
        asyncio.run(world.registry.get(EVE, KEY))
    with pytest.raises(NotFound) as missing:
        asyncio.run(world.registry.get(EVE, OTHER_KEY))

    assert str(hidden.value) == f"context {KEY} not found"
    assert str(missing.value) == f"context {OTHER_KEY} not found"


def test_reading_needs_the_read_scope_whether_or_not_the_context_exists(world: World) -> None:
    writer_only = Actor(subject="alice", scopes=frozenset({WRITE_SCOPE}))
    asyncio.run(world.registry.put(ALICE, KEY, document()))

    for key in (KEY, OTHER_KEY):
        with pytest.raises(Forbidden):
            asyncio.run(world.registry.get(writer_only, key))


def test_get_version_returns_old_versions_and_not_found_past_the_last(world: World) -> None:
    v1 = asyncio.run(world.registry.put(ALICE, KEY, document("1"))).context
    asyncio.run(world.registry.put(ALICE, KEY, document("2")))

    assert asyncio.run(world.registry.get_version(BOB, KEY, 1)) == v1
    with pytest.raises(NotFound):
        asyncio.run(world.registry.get_version(BOB, KEY, 3))
    with pytest.raises(NotFound):
        asyncio.run(world.registry.get_version(EVE, KEY, 1))


def test_removing_a_reader_hides_the_whole_history_from_them(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document("shared")))
    asyncio.run(world.registry.put(ALICE, KEY, document("private", acl=Acl())))

    for read in (
        world.registry.get(BOB, KEY),
        world.registry.versions(BOB, KEY),
        world.registry.get_version(BOB, KEY, 1),
        world.registry.audit(BOB, KEY),
    ):
        with pytest.raises(NotFound):
            asyncio.run(read)


def test_audit_lists_every_change_of_the_context_for_its_readers(world: World) -> None:
    other = OTHER_KEY.model_copy(update={"name": "other"})
    asyncio.run(world.registry.put(ALICE, KEY, document("1"), request_id="a"))
    asyncio.run(world.registry.put(ALICE, other, document("x")))
    asyncio.run(world.registry.put(CAROL, KEY, document("2"), request_id="b"))
    asyncio.run(world.registry.put(CAROL, KEY, document("2"), request_id="no-op"))
    asyncio.run(world.registry.delete(ALICE, KEY, request_id="c"))

    entries = asyncio.run(world.registry.audit(BOB, KEY))

    assert [(e.version, e.action, e.actor, e.request_id) for e in entries] == [
        (1, ChangeAction.CREATED, "alice", "a"),
        (2, ChangeAction.UPDATED, "carol", "b"),
        (3, ChangeAction.DELETED, "alice", "c"),
    ]
    with pytest.raises(NotFound):
        asyncio.run(world.registry.audit(EVE, KEY))
