"""Authorization: scopes, owner and ACL, and the 403-versus-404 rule."""

from datetime import UTC, datetime

import pytest

from contexts.domain.errors import Forbidden, NotFound
from contexts.domain.model import Actor, Context, new_etag
from contexts.domain.policy import (
    READ_SCOPE,
    WRITE_SCOPE,
    can_manage,
    can_read,
    can_write,
    ensure_manageable,
    ensure_readable,
    ensure_writable,
    readable,
    require_scope,
)
from contexts.tests.unit.domain.builders import ADMIN, ALICE, BOB, CAROL, EVE, KEY, SHARED_ACL

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def owned_by_alice(name: str = "runbook") -> Context:
    return Context(
        key=KEY.model_copy(update={"name": name}),
        version=1,
        kind="config",
        schema_version=1,
        body={},
        labels={},
        owner="alice",
        acl=SHARED_ACL,
        created_at=NOW,
        updated_at=NOW,
        updated_by="alice",
        etag=new_etag(),
    )


@pytest.mark.parametrize(
    ("actor", "reads", "writes", "manages"),
    [
        (ALICE, True, True, True),  # owner
        (BOB, True, False, False),  # reader
        (CAROL, True, True, False),  # writer through a group
        (EVE, False, False, False),  # stranger
        (ADMIN, True, True, True),  # admin scope, in no ACL
    ],
)
def test_owner_readers_writers_and_admins_get_their_rights(
    actor: Actor, reads: bool, writes: bool, manages: bool
) -> None:
    context = owned_by_alice()

    assert (can_read(actor, context), can_write(actor, context), can_manage(actor, context)) == (
        reads,
        writes,
        manages,
    )


def test_a_missing_scope_is_forbidden_and_admin_implies_every_scope() -> None:
    reader_only = Actor(subject="alice", scopes=frozenset({READ_SCOPE}))

    require_scope(reader_only, READ_SCOPE)
    with pytest.raises(Forbidden, match=WRITE_SCOPE):
        require_scope(reader_only, WRITE_SCOPE)
    require_scope(ADMIN, WRITE_SCOPE)


def test_a_caller_who_cannot_read_gets_the_same_not_found_as_for_a_missing_context() -> None:
    with pytest.raises(NotFound) as unreadable:
        ensure_readable(EVE, KEY, owned_by_alice())
    with pytest.raises(NotFound) as missing:
        ensure_readable(EVE, KEY, None)

    assert str(unreadable.value) == str(missing.value)


def test_a_reader_who_cannot_write_gets_forbidden() -> None:
    context = ensure_readable(BOB, KEY, owned_by_alice())

    with pytest.raises(Forbidden):
        ensure_writable(BOB, context)


def test_only_owner_and_admin_may_change_the_acl() -> None:
    context = owned_by_alice()

    ensure_manageable(ALICE, context)
    ensure_manageable(ADMIN, context)
    with pytest.raises(Forbidden):
        ensure_manageable(CAROL, context)


def test_readable_drops_what_the_caller_may_not_read_and_keeps_order() -> None:
    mine = owned_by_alice("a")
    hidden = Context.model_validate({**owned_by_alice("b").model_dump(), "owner": "zed"})
    hidden_from_eve = owned_by_alice("c")
    shared_with_eve = Context.model_validate(
        {
            **owned_by_alice("d").model_dump(),
            "acl": {"readers": ["subject:eve"], "writers": []},
        }
    )
    contexts = [mine, hidden, hidden_from_eve, shared_with_eve]

    assert readable(EVE, contexts) == [shared_with_eve]
    assert [c.key.name for c in readable(BOB, contexts)] == ["a", "b", "c"]
    assert readable(ADMIN, contexts) == contexts
