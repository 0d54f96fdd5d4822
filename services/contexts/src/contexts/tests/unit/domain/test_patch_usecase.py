"""PATCH: merge-patch the body (and labels) of a live context."""

import asyncio

import pytest

from contexts.domain.errors import (
    Forbidden,
    InvalidBody,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from contexts.domain.events import ChangeAction
from contexts.domain.model import ContextDraft
from contexts.tests.unit.domain.builders import ALICE, BOB, CAROL, EVE, KEY, SHARED_ACL, document
from contexts.tests.unit.domain.world import World

PROFILE = ContextDraft(
    kind="agent-profile",
    schema_version=1,
    body={"display_name": "Helper", "model": "m-1", "tools": ["search"]},
    labels={"team": "a", "env": "dev"},
    acl=SHARED_ACL,
)


def test_a_merge_patch_updates_the_body_as_the_next_version(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, PROFILE))

    result = asyncio.run(
        world.registry.patch(CAROL, KEY, {"model": "m-2", "tools": None}, request_id="r")
    )

    assert (result.created, result.changed, result.context.version) == (False, True, 2)
    assert result.context.body == {
        "display_name": "Helper",
        "model": "m-2",
        "instructions": "",
        "tools": [],
    }
    assert (result.context.kind, result.context.schema_version) == ("agent-profile", 1)
    assert [e.action for e in world.store.events] == [ChangeAction.CREATED, ChangeAction.UPDATED]
    assert world.store.audit[-1].request_id == "r"


def test_a_patch_producing_an_invalid_body_is_refused(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, PROFILE))

    with pytest.raises(InvalidBody) as caught:
        asyncio.run(world.registry.patch(ALICE, KEY, {"display_name": None}))

    assert caught.value.errors[0].loc == ("body", "display_name")
    assert len(world.store.versions[KEY]) == 1


def test_a_patch_that_changes_nothing_appends_nothing(world: World) -> None:
    current = asyncio.run(world.registry.put(ALICE, KEY, PROFILE)).context

    result = asyncio.run(world.registry.patch(ALICE, KEY, {"model": "m-1"}, labels_patch={}))

    assert (result.changed, result.context.etag) == (False, current.etag)
    assert len(world.store.events) == len(world.store.audit) == 1


def test_a_labels_patch_sets_and_removes_labels(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, PROFILE))

    result = asyncio.run(
        world.registry.patch(ALICE, KEY, {}, labels_patch={"env": None, "tier": "gold"})
    )

    assert result.context.labels == {"team": "a", "tier": "gold"}


def test_a_labels_patch_with_a_malformed_key_is_invalid_input(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, PROFILE))

    with pytest.raises(InvalidInput) as caught:
        asyncio.run(world.registry.patch(ALICE, KEY, {}, labels_patch={"Bad Key": "x"}))

    assert caught.value.errors[0].loc[0] == "labels"


def test_patching_with_a_stale_etag_fails(world: World) -> None:
    stale = asyncio.run(world.registry.put(ALICE, KEY, PROFILE)).context.etag
    asyncio.run(world.registry.patch(ALICE, KEY, {"model": "m-2"}))

    with pytest.raises(PreconditionFailed):
        asyncio.run(world.registry.patch(ALICE, KEY, {"model": "m-3"}, if_match=stale))


def test_patching_a_missing_or_deleted_context_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        asyncio.run(world.registry.patch(ALICE, KEY, {"content": "x"}))

    asyncio.run(world.registry.put(ALICE, KEY, document()))
    asyncio.run(world.registry.delete(ALICE, KEY))
    with pytest.raises(NotFound):
        asyncio.run(world.registry.patch(ALICE, KEY, {"content": "x"}))


def test_a_reader_patching_is_forbidden_and_a_stranger_is_not_found(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, PROFILE))

    with pytest.raises(Forbidden):
        asyncio.run(world.registry.patch(BOB, KEY, {"model": "x"}))
    with pytest.raises(NotFound):
        asyncio.run(world.registry.patch(EVE, KEY, {"model": "x"}))
    assert len(world.store.versions[KEY]) == 1
