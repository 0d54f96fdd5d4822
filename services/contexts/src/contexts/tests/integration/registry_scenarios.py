"""The registry's use-cases end to end on SQL storage, run on SQLite and PostgreSQL alike.

Each scenario takes a `SqlWorld` on a freshly migrated database and asserts through the
real `ContextRegistry`, the SQL adapters and, where it matters, the tables themselves.
"""

import pytest
from pydantic import JsonValue

from contexts.adapters.sql.outbox import SqlOutbox
from contexts.domain.errors import NotFound, PreconditionFailed
from contexts.domain.events import ChangeAction, ContextChanged
from contexts.domain.model import Acl, ContextKey
from contexts.tests.integration.sql_support import SqlWorld, count_rows
from contexts.tests.unit.domain.builders import ALICE, BOB, EVE, KEY, config, document


async def put_patch_delete_and_read_back(world: SqlWorld) -> None:
    """Create, no-op put, patch, delete; every version, the audit trail and reads agree."""
    registry = world.registry
    created = await registry.put(ALICE, KEY, document("v1", env="prod"), request_id="req-1")
    assert (created.created, created.changed, created.context.version) == (True, True, 1)
    assert await registry.get(BOB, KEY) == created.context

    world.clock.advance()
    same = await registry.put(ALICE, KEY, document("v1", env="prod"))
    assert (same.created, same.changed, same.context) == (False, False, created.context)

    world.clock.advance()
    patched = await registry.patch(
        ALICE,
        KEY,
        {"content": "v2"},
        labels_patch={"env": None, "tier": "gold"},
        if_match=created.context.etag,
    )
    assert patched.context.version == 2
    assert patched.context.body["content"] == "v2"
    assert patched.context.body["format"] == "markdown"
    assert patched.context.labels == {"tier": "gold"}
    assert patched.context.created_at == created.context.created_at
    assert patched.context.updated_at > created.context.updated_at
    with pytest.raises(PreconditionFailed):
        await registry.patch(ALICE, KEY, {"content": "v3"}, if_match=created.context.etag)

    world.clock.advance()
    deleted = await registry.delete(ALICE, KEY, if_match=patched.context.etag)
    assert (deleted.version, deleted.deleted) == (3, True)
    with pytest.raises(NotFound):
        await registry.get(ALICE, KEY)
    with pytest.raises(NotFound):
        await registry.get(EVE, KEY)

    versions = await registry.versions(ALICE, KEY)
    assert [version.version for version in versions] == [1, 2, 3]
    assert versions[0] == created.context
    assert versions[1] == patched.context
    assert versions[2] == deleted
    assert [version.etag for version in versions] == [
        created.context.etag,
        patched.context.etag,
        deleted.etag,
    ]
    assert await registry.get_version(BOB, KEY, 2) == patched.context
    with pytest.raises(NotFound):
        await registry.get_version(ALICE, KEY, 4)

    audit = await registry.audit(ALICE, KEY)
    assert [entry.action for entry in audit] == [
        ChangeAction.CREATED,
        ChangeAction.UPDATED,
        ChangeAction.DELETED,
    ]
    assert [entry.version for entry in audit] == [1, 2, 3]
    assert audit[0].before_hash is None
    assert audit[0].request_id == "req-1"
    assert audit[1].before_hash == audit[0].after_hash == created.context.content_hash
    assert audit[2].before_hash == patched.context.content_hash
    assert audit[2].at == deleted.updated_at

    recreated = await registry.put(ALICE, KEY, document("again"), if_none_match="*")
    assert (recreated.created, recreated.context.version) == (True, 4)


async def json_and_times_round_trip(world: SqlWorld) -> None:
    """Bodies, ACLs and timestamps come back exactly as they were written."""
    body: dict[str, JsonValue] = {
        "nested": {"list": [1, 2.5, "three", None, True], "unicode": "żółw ✓"},
        "n": 2**40,
    }
    key = ContextKey(namespace="team-a", name="settings")
    written = await world.registry.put(ALICE, key, config(body))
    read = await world.registry.get(ALICE, key)
    assert read == written.context
    assert read.body == body
    assert read.acl == Acl(readers=frozenset({"subject:bob"}), writers=frozenset({"group:editors"}))
    assert read.created_at.utcoffset() is not None
    assert read.etag == written.context.etag


async def list_pages_by_name_with_filters(world: SqlWorld) -> None:
    """Keyset pages by name over the latest live versions, filtered by kind and label."""
    registry = world.registry
    for name in ("delta", "alpha", "echo", "charlie", "bravo"):
        await registry.put(ALICE, ContextKey(namespace="team-a", name=name), document(env="prod"))
    await registry.put(ALICE, ContextKey(namespace="team-a", name="foxtrot"), config({}))
    await registry.put(ALICE, ContextKey(namespace="team-b", name="alpha"), document(env="prod"))
    await registry.delete(ALICE, ContextKey(namespace="team-a", name="echo"))
    # A later version without the label no longer matches it.
    await registry.put(ALICE, ContextKey(namespace="team-a", name="delta"), document(env="dev"))

    names: list[str] = []
    cursor: str | None = None
    while True:
        page = await registry.list(ALICE, "team-a", limit=2, cursor=cursor)
        names += [context.key.name for context in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert names == ["alpha", "bravo", "charlie", "delta", "foxtrot"]

    by_kind = await registry.list(ALICE, "team-a", kind="config")
    assert [context.key.name for context in by_kind.items] == ["foxtrot"]
    by_label = await registry.list(ALICE, "team-a", label="env=prod")
    assert [context.key.name for context in by_label.items] == ["alpha", "bravo", "charlie"]
    dev = await registry.list(ALICE, "team-a", label="env=dev", kind="document")
    assert [(context.key.name, context.version) for context in dev.items] == [("delta", 2)]
    assert (await registry.list(EVE, "team-a")).items == ()
    assert [context.key.name for context in (await registry.list(BOB, "team-b")).items] == ["alpha"]


async def outbox_follows_each_change(world: SqlWorld) -> None:
    """One outbox row per change, in order; none for a put that changes nothing."""
    registry = world.registry
    created = await registry.put(ALICE, KEY, document("v1"))
    await registry.put(ALICE, KEY, document("v1"))  # no-op
    updated = await registry.put(ALICE, KEY, document("v2"))
    deleted = await registry.delete(ALICE, KEY)

    pending = await world.outbox.pending(10)
    assert [event.event.version for event in pending] == [1, 2, 3]
    assert [event.event.action for event in pending] == [
        ChangeAction.CREATED,
        ChangeAction.UPDATED,
        ChangeAction.DELETED,
    ]
    assert [event.event.etag for event in pending] == [
        created.context.etag,
        updated.context.etag,
        deleted.etag,
    ]
    positions = [event.position for event in pending]
    assert positions == sorted(positions)
    # slipway.events' envelope: the namespace's stream, keyed by name, the change's own id.
    assert {(row.envelope.stream, row.envelope.key, row.envelope.type) for row in pending} == {
        (KEY.namespace, KEY.name, "context.changed")
    }
    assert [row.envelope.id for row in pending] == [str(row.event.event_id) for row in pending]

    assert [event.position for event in await world.outbox.pending(2)] == positions[:2]
    await world.outbox.mark_published(positions[:2])
    assert [event.position for event in await world.outbox.pending(10)] == positions[2:]
    await world.outbox.mark_published([])
    await world.outbox.mark_published(positions)
    assert await world.outbox.pending(10) == []


async def failed_transaction_leaves_nothing(
    world: SqlWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the outbox write fails, the version and audit entry written before it vanish."""

    async def broken_add(self: SqlOutbox, event: ContextChanged) -> None:
        raise RuntimeError("outbox unavailable")

    await world.registry.put(ALICE, KEY, document("v1"))
    with monkeypatch.context() as patch:
        patch.setattr(SqlOutbox, "add", broken_add)
        with pytest.raises(RuntimeError, match="outbox unavailable"):
            await world.registry.put(ALICE, KEY, document("v2"))
        with pytest.raises(RuntimeError, match="outbox unavailable"):
            await world.registry.put(ALICE, ContextKey(namespace="team-a", name="new"), document())
    assert [version.version for version in await world.registry.versions(ALICE, KEY)] == [1]
    assert (await world.registry.get(ALICE, KEY)).body["content"] == "v1"
    for table, rows in {
        "context_versions": 1,
        "contexts_current": 1,
        "audit_log": 1,
        "slipway_outbox": 1,
        "context_labels": 0,
    }.items():
        assert await count_rows(world.database, table) == rows, table
    assert [context.key.name for context in (await world.registry.list(ALICE, "team-a")).items] == [
        KEY.name
    ]
