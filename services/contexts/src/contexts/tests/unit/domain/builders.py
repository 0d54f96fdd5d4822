"""Actors, keys, drafts and stored versions the tests share."""

from collections.abc import Mapping
from datetime import datetime

from pydantic import JsonValue

from contexts.domain.model import Acl, Actor, Context, ContextDraft, ContextKey, new_etag
from contexts.domain.policy import ADMIN_SCOPE, READ_SCOPE, WRITE_SCOPE

READ_WRITE = frozenset({READ_SCOPE, WRITE_SCOPE})

ALICE = Actor(subject="alice", scopes=READ_WRITE)  # owns what the tests create
BOB = Actor(subject="bob", scopes=READ_WRITE)  # named a reader by SHARED_ACL
CAROL = Actor(subject="carol", groups=frozenset({"editors"}), scopes=READ_WRITE)  # a writer
EVE = Actor(subject="eve", scopes=READ_WRITE)  # named nowhere
ADMIN = Actor(subject="root", scopes=frozenset({ADMIN_SCOPE}))

SHARED_ACL = Acl(readers=frozenset({"subject:bob"}), writers=frozenset({"group:editors"}))
NO_ACL = Acl()  # the owner alone reads and writes

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


def stored_config(
    at: datetime,
    *,
    version: int = 1,
    body: Mapping[str, JsonValue] | None = None,
    acl: Acl = NO_ACL,
    updated_by: str = "alice",
) -> Context:
    """Version `version` of `KEY` as stored: a `config` v1 owned by alice, written at `at`."""
    return Context(
        key=KEY,
        version=version,
        kind="config",
        schema_version=1,
        body=dict(body or {}),
        labels={},
        owner="alice",
        acl=acl,
        created_at=at,
        updated_at=at,
        updated_by=updated_by,
        etag=new_etag(),
    )
