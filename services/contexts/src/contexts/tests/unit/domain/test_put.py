"""PUT: create or replace, idempotently, under preconditions and authorization."""

import asyncio

import pytest

from contexts.domain.errors import (
    Forbidden,
    InvalidBody,
    NotFound,
    PreconditionFailed,
    UnknownKind,
)
from contexts.domain.events import ChangeAction
from contexts.domain.model import Acl, Actor, ContextDraft
from contexts.domain.policy import READ_SCOPE
from contexts.tests.unit.domain.builders import (
    ADMIN,
    ALICE,
    BOB,
    CAROL,
    EVE,
    KEY,
    SHARED_ACL,
    config,
    document,
)
from contexts.tests.unit.domain.world import World


def test_first_put_creates_version_one_owned_by_the_caller(world: World) -> None:
    result = asyncio.run(world.registry.put(ALICE, KEY, document(), request_id="req-1"))

    assert (result.created, result.changed) == (True, True)
    context = result.context
    assert (context.version, context.owner, context.deleted) == (1, "alice", False)
    assert context.created_at == context.updated_at == world.clock.now()
    assert context.acl == SHARED_ACL
    assert world.store.versions[KEY] == [context]


def test_put_stores_the_body_as_normalized_by_the_kind_schema(world: World) -> None:
    draft = ContextDraft(kind="document", schema_version=1, body={"content": "x"})

    context = asyncio.run(world.registry.put(ALICE, KEY, draft)).context

    assert context.body == {"content": "x", "format": "text", "title": None}
    assert context.acl == Acl()


def test_putting_the_current_content_again_changes_nothing(world: World) -> None:
    first = asyncio.run(world.registry.put(ALICE, KEY, document())).context
    world.clock.advance()

    again = asyncio.run(world.registry.put(ALICE, KEY, document()))

    assert (again.created, again.changed) == (False, False)
    assert again.context == first
    assert again.context.etag == first.etag
    assert len(world.store.versions[KEY]) == 1
    assert len(world.store.audit) == len(world.store.events) == world.store.commits == 1


def test_a_body_equal_after_normalization_is_the_same_content(world: World) -> None:
    explicit = ContextDraft(
        kind="document", schema_version=1, body={"content": "x", "format": "text", "title": None}
    )
    asyncio.run(world.registry.put(ALICE, KEY, explicit))

    again = asyncio.run(
        world.registry.put(
            ALICE, KEY, ContextDraft(kind="document", schema_version=1, body={"content": "x"})
        )
    )

    assert again.changed is False


def test_a_changed_body_appends_the_next_version_with_a_new_etag(world: World) -> None:
    first = asyncio.run(world.registry.put(ALICE, KEY, document("one"))).context
    world.clock.advance()

    second = asyncio.run(world.registry.put(ALICE, KEY, document("two")))

    assert (second.created, second.changed) == (False, True)
    assert second.context.version == 2
    assert second.context.etag != first.etag
    assert second.context.created_at == first.created_at
    assert second.context.updated_at > first.updated_at
    assert world.store.versions[KEY] == [first, second.context]


@pytest.mark.parametrize(
    "draft",
    [document(foo="bar"), document(acl=Acl()), config({"content": "hello"})],
    ids=["labels", "acl", "kind"],
)
def test_a_change_to_labels_acl_or_kind_is_a_new_version(world: World, draft: ContextDraft) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document()))

    assert asyncio.run(world.registry.put(ALICE, KEY, draft)).context.version == 2


def test_each_change_writes_one_audit_entry_and_one_event(world: World) -> None:
    v1 = asyncio.run(world.registry.put(ALICE, KEY, document("one"), request_id="r1")).context
    v2 = asyncio.run(world.registry.put(CAROL, KEY, document("two"), request_id="r2")).context

    first, second = world.store.audit
    assert (first.action, first.version, first.before_hash, first.after_hash) == (
        ChangeAction.CREATED,
        1,
        None,
        v1.content_hash,
    )
    assert (second.action, second.actor, second.request_id) == (ChangeAction.UPDATED, "carol", "r2")
    assert (second.before_hash, second.after_hash) == (v1.content_hash, v2.content_hash)
    assert [(e.action, e.version, e.etag, e.actor) for e in world.store.events] == [
        (ChangeAction.CREATED, 1, v1.etag, "alice"),
        (ChangeAction.UPDATED, 2, v2.etag, "carol"),
    ]


def test_an_invalid_body_is_refused_and_nothing_is_stored(world: World) -> None:
    draft = ContextDraft(kind="document", schema_version=1, body={"content": 42})

    with pytest.raises(InvalidBody) as caught:
        asyncio.run(world.registry.put(ALICE, KEY, draft))

    assert caught.value.errors[0].loc == ("body", "content")
    assert world.store.versions == {}


def test_an_unknown_kind_is_refused(world: World) -> None:
    draft = ContextDraft(kind="spreadsheet", schema_version=1, body={})

    with pytest.raises(UnknownKind):
        asyncio.run(world.registry.put(ALICE, KEY, draft))


def test_if_match_with_the_current_etag_allows_the_write(world: World) -> None:
    current = asyncio.run(world.registry.put(ALICE, KEY, document("one"))).context

    result = asyncio.run(world.registry.put(ALICE, KEY, document("two"), if_match=current.etag))

    assert result.context.version == 2


def test_if_match_with_a_stale_etag_fails_and_writes_nothing(world: World) -> None:
    stale = asyncio.run(world.registry.put(ALICE, KEY, document("one"))).context.etag
    asyncio.run(world.registry.put(ALICE, KEY, document("two")))

    with pytest.raises(PreconditionFailed):
        asyncio.run(world.registry.put(ALICE, KEY, document("three"), if_match=stale))

    assert len(world.store.versions[KEY]) == 2


def test_if_match_on_a_missing_context_fails(world: World) -> None:
    with pytest.raises(PreconditionFailed):
        asyncio.run(world.registry.put(ALICE, KEY, document(), if_match="*"))


def test_if_none_match_star_creates_only(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document(), if_none_match="*"))

    with pytest.raises(PreconditionFailed):
        asyncio.run(world.registry.put(ALICE, KEY, document(), if_none_match="*"))
    assert len(world.store.versions[KEY]) == 1


def test_if_none_match_star_may_recreate_a_deleted_context(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document()))
    asyncio.run(world.registry.delete(ALICE, KEY))

    result = asyncio.run(world.registry.put(ALICE, KEY, document(), if_none_match="*"))

    assert (result.created, result.context.version) == (True, 3)


def test_creating_needs_the_write_scope(world: World) -> None:
    reader = Actor(subject="alice", scopes=frozenset({READ_SCOPE}))

    with pytest.raises(Forbidden):
        asyncio.run(world.registry.put(reader, KEY, document()))


def test_a_stranger_writing_an_existing_context_gets_not_found(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document("mine")))

    with pytest.raises(NotFound):
        asyncio.run(world.registry.put(EVE, KEY, document("theirs")))

    assert [c.body["content"] for c in world.store.versions[KEY]] == ["mine"]


def test_a_reader_writing_gets_forbidden(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document("mine")))

    with pytest.raises(Forbidden):
        asyncio.run(world.registry.put(BOB, KEY, document("bob's")))


def test_a_writer_may_replace_the_content_and_keeps_the_acl_by_omitting_it(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document("one")))

    result = asyncio.run(world.registry.put(CAROL, KEY, document("two", acl=None)))

    assert result.context.acl == SHARED_ACL
    assert (result.context.owner, result.context.updated_by) == ("alice", "carol")


def test_a_writer_may_not_change_the_acl(world: World) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document()))
    grab = Acl(writers=frozenset({"group:editors", "subject:mallory"}))

    with pytest.raises(Forbidden, match="ACL"):
        asyncio.run(world.registry.put(CAROL, KEY, document(acl=grab)))


@pytest.mark.parametrize("actor", [ALICE, ADMIN], ids=["owner", "admin"])
def test_owner_and_admin_may_change_the_acl(world: World, actor: Actor) -> None:
    asyncio.run(world.registry.put(ALICE, KEY, document()))

    result = asyncio.run(world.registry.put(actor, KEY, document(acl=Acl())))

    assert result.context.acl == Acl()
    assert result.context.owner == "alice"


# A concurrent change between the read and the write: see test_write_retry.py.


def test_a_failure_before_commit_leaves_no_version_audit_or_event(world: World) -> None:
    world.store.fail_outbox = True

    with pytest.raises(RuntimeError, match="outbox"):
        asyncio.run(world.registry.put(ALICE, KEY, document()))

    assert world.store.versions == {}
    assert world.store.audit == []
    assert world.store.events == []
