"""Actors, keys and drafts the tests share."""

from pydantic import JsonValue

from contexts.domain.model import Acl, Actor, ContextDraft, ContextKey
from contexts.domain.policy import ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE

READ_WRITE = frozenset({READ_SCOPE, WRITE_SCOPE})

ALICE = Actor(subject="alice", scopes=READ_WRITE)  # owns what the tests create
BOB = Actor(subject="bob", scopes=READ_WRITE)  # named a reader by SHARED_ACL
CAROL = Actor(subject="carol", groups=frozenset({"editors"}), scopes=READ_WRITE)  # a writer
EVE = Actor(subject="eve", scopes=READ_WRITE)  # named nowhere
ADMIN = Actor(subject="root", scopes=frozenset({ADMIN_SCOPE}))

SHARED_ACL = Acl(readers=frozenset({"subject:bob"}), writers=frozenset({"group:editors"}))

KEY = ContextKey(namespace="team-a", name="runbook")


def document(content: str = "hello", acl: Acl | None = SHARED_ACL, **labels: str) -> ContextDraft:
    """A `document` v1 draft."""
    return ContextDraft(
        kind="document",
        schema_version=1,
        body={"content": content, "format": "markdown"},
        labels=labels,
        acl=acl,
    )


def config(body: dict[str, JsonValue], acl: Acl | None = SHARED_ACL) -> ContextDraft:
    """A `config` v1 draft."""
    return ContextDraft(kind="config", schema_version=1, body=body, acl=acl)
