"""The outbox event and the audit entry a change produces."""

import json
from datetime import UTC, datetime
from uuid import UUID

from contexts.domain.audit import AuditEntry
from contexts.domain.events import ChangeAction, ContextChanged
from contexts.domain.model import Context
from contexts.tests.unit.domain.builders import stored_config

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def version(n: int, body: dict[str, int]) -> Context:
    return stored_config(NOW, version=n, body=body, updated_by="carol")


def test_context_changed_serializes_to_a_plain_json_dict() -> None:
    context = version(3, {"a": 1})

    event = ContextChanged.of(context, ChangeAction.UPDATED, UUID(int=1))

    assert event.to_json_dict() == {
        "type": "context.changed",
        "event_id": "00000000-0000-0000-0000-000000000001",
        "namespace": "team-a",
        "name": "runbook",
        "version": 3,
        "action": "updated",
        "etag": context.etag,
        "occurred_at": "2025-01-02T03:04:05Z",
        "actor": "carol",
    }
    assert ContextChanged.model_validate_json(json.dumps(event.to_json_dict())) == event


def test_audit_entry_records_hashes_before_and_after_the_change() -> None:
    before, after = version(1, {"a": 1}), version(2, {"a": 2})

    entry = AuditEntry.of_change(UUID(int=2), before, after, ChangeAction.UPDATED, "req-1")

    assert (entry.before_hash, entry.after_hash) == (before.content_hash, after.content_hash)
    assert (entry.actor, entry.version, entry.request_id, entry.at) == ("carol", 2, "req-1", NOW)
    assert entry.to_json_dict()["key"] == {"namespace": "team-a", "name": "runbook"}


def test_audit_entry_of_a_creation_has_no_before_hash() -> None:
    entry = AuditEntry.of_change(UUID(int=3), None, version(1, {}), ChangeAction.CREATED, None)

    assert entry.before_hash is None
