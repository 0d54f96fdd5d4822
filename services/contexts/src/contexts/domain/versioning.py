"""How the next version of a context is built from the previous one."""

from datetime import datetime

from contexts.domain.model import Acl, Actor, Context, ContextKey, JsonObject, new_etag


def next_version(
    key: ContextKey,
    previous: Context | None,
    *,
    kind: str,
    schema_version: int,
    body: JsonObject,
    labels: dict[str, str],
    acl: Acl,
    actor: Actor,
    now: datetime,
    deleted: bool = False,
) -> Context:
    """The version after `previous` (version 1 when None) with this content, written now.

    It gets a fresh random ETag; a write that turns out to change nothing keeps the current
    version, and so its ETag (see `ContextRegistry`).
    """
    # Built afresh rather than with model_copy: a copy would carry over the cached content
    # hash and the ETag of the version it was copied from.
    return Context(
        key=key,
        version=1 if previous is None else previous.version + 1,
        kind=kind,
        schema_version=schema_version,
        body=body,
        labels=labels,
        # The owner survives deletion, so a name stays theirs to restore.
        owner=actor.subject if previous is None else previous.owner,
        acl=acl,
        deleted=deleted,
        # Re-creating after a tombstone starts a new life: created_at is reset.
        created_at=now if previous is None or previous.deleted else previous.created_at,
        updated_at=now,
        updated_by=actor.subject,
        etag=new_etag(),
    )


def tombstone(previous: Context, *, actor: Actor, now: datetime) -> Context:
    """The version that deletes `previous`, keeping its content and ACL for history."""
    return next_version(
        previous.key,
        previous,
        kind=previous.kind,
        schema_version=previous.schema_version,
        body=previous.body,
        labels=dict(previous.labels),
        acl=previous.acl,
        actor=actor,
        now=now,
        deleted=True,
    )
