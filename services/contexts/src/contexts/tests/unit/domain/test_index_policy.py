"""The index scope (`contexts:index`): every context readable, nothing writable."""

from datetime import UTC, datetime

import pytest

from contexts.domain.errors import Forbidden
from contexts.domain.events import ContextAccess
from contexts.domain.model import Actor, Context
from contexts.domain.policy import (
    INDEX_SCOPE,
    READ_SCOPE,
    WRITE_SCOPE,
    can_manage,
    can_read,
    can_write,
    ensure_writable,
    is_admin,
    is_indexer,
    require_scope,
)
from contexts.tests.unit.domain.builders import stored_config

NOW = datetime(2025, 1, 1, tzinfo=UTC)
INDEXER = Actor(subject="search", scopes=frozenset({READ_SCOPE, INDEX_SCOPE}))
# Even with the write scope beside it, the index scope adds no right to write.
INDEXER_WITH_WRITE = Actor(
    subject="search", scopes=frozenset({READ_SCOPE, WRITE_SCOPE, INDEX_SCOPE})
)


def private_to_alice() -> Context:
    return stored_config(NOW)


def test_the_index_scope_reads_a_context_no_acl_names_it_in() -> None:
    context = private_to_alice()
    assert is_indexer(INDEXER)
    assert can_read(INDEXER, context)
    assert ContextAccess(version=1, owner="alice", acl=context.acl).readable_by(INDEXER)


@pytest.mark.parametrize("actor", [INDEXER, INDEXER_WITH_WRITE])
def test_the_index_scope_grants_no_write_no_acl_change_and_no_admin(actor: Actor) -> None:
    context = private_to_alice()
    assert not can_write(actor, context)
    assert not can_manage(actor, context)
    assert not is_admin(actor)
    with pytest.raises(Forbidden):
        ensure_writable(actor, context)


def test_the_index_scope_alone_is_not_the_read_or_write_scope() -> None:
    only_index = Actor(subject="search", scopes=frozenset({INDEX_SCOPE}))
    for scope in (READ_SCOPE, WRITE_SCOPE):
        with pytest.raises(Forbidden):
            require_scope(only_index, scope)


def test_without_the_index_scope_the_acl_decides_as_before() -> None:
    stranger = Actor(subject="eve", scopes=frozenset({READ_SCOPE}))
    assert not is_indexer(stranger)
    assert not can_read(stranger, private_to_alice())
