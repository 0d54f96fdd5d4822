"""Rows to domain objects and back: `context_versions` as `Context`s, `audit_log` as
`AuditEntry`s, without validating stored rows.

Each table has here the columns its reads select, in the order the mapping unpacks them, and
the INSERT parameters of a domain object: one place where a column is added or renamed.

A stored row was validated when it was written: reading it back re-runs none of pydantic's
checks, which is most of what building a `Context` costs. What a row needs to read as
written is done here instead: large integers of a JSON body (`_as_written`) and ACL entries
from before today's pattern (`_stored_acl`).

Not even `model_construct`: it walks every field of the model (aliases, defaults, a fields
set built name by name), ~3 us for a `ContextKey` and ~8 us for a `Context`, three models a
row, 51 rows a listed page. `_trusted` builds the instance it would build from a complete,
ordered dict of field values in well under a microsecond (tests/unit/test_rows.py checks the
two are the same instance, state and all, for many rows).
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel

from contexts.adapters.sql.tables import audit_log, context_versions, contexts_current
from contexts.domain.audit import AuditEntry
from contexts.domain.events import ChangeAction
from contexts.domain.model import MAX_SAFE_INTEGER, Acl, Context, ContextKey

M = TypeVar("M", bound=BaseModel)


def _trusted(model: type[M]) -> Callable[[dict[str, Any]], M]:
    """What `model.model_construct(**values)` returns, for `values` naming every field in order.

    model_construct's own work for such values reduces to these four attributes; the model
    must have nothing that would add to them (no `model_post_init`, private attributes, extra
    fields kept, or root model), which is checked here, once.
    """
    if (
        model.__pydantic_post_init__
        or model.__private_attributes__
        or model.__pydantic_root_model__
        or model.model_config.get("extra") == "allow"
    ):
        raise TypeError(f"{model.__name__} needs model_construct")
    names = tuple(model.model_fields)
    new, set_attribute = model.__new__, object.__setattr__

    def build(values: dict[str, Any]) -> M:
        instance = new(model)
        set_attribute(instance, "__dict__", values)
        set_attribute(instance, "__pydantic_fields_set__", set(names))
        set_attribute(instance, "__pydantic_extra__", None)
        set_attribute(instance, "__pydantic_private__", None)
        return instance

    return build


_context, _key, _acl = _trusted(Context), _trusted(ContextKey), _trusted(Acl)

# The columns every read of versions selects, in this order (`to_context` unpacks them).
VERSION_COLUMNS = tuple(context_versions.c)
_v, _current = context_versions.c, contexts_current.c
# Each context's current version, as `VERSION_COLUMNS`: `contexts_current` joined to the
# `context_versions` row it points at (tombstones included). A read adds its WHERE, ORDER BY
# and LIMIT; the statement is immutable, so each read builds its own from this one.
CURRENT_VERSIONS = (
    sa.select(*VERSION_COLUMNS)
    .select_from(contexts_current)
    .join(
        context_versions,
        sa.and_(
            _v.namespace == _current.namespace,
            _v.name == _current.name,
            _v.version == _current.version,
        ),
    )
)
_a = audit_log.c
# The columns a read of audit entries selects, in this order (`to_audit_entry` unpacks them).
AUDIT_COLUMNS = (
    _a.entry_id,
    _a.actor,
    _a.action,
    _a.version,
    _a.before_hash,
    _a.after_hash,
    _a.request_id,
    _a.occurred_at,
)


def row_values(context: Context) -> dict[str, Any]:
    """The `context_versions` row of a version, as INSERT parameters."""
    return {
        "namespace": context.key.namespace,
        "name": context.key.name,
        "version": context.version,
        "kind": context.kind,
        "schema_version": context.schema_version,
        "body": context.body,
        "labels": dict(context.labels),
        "owner": context.owner,
        "acl": context.acl.model_dump(mode="json"),
        "deleted": context.deleted,
        "etag": context.etag,
        "content_hash": context.content_hash,
        "created_at": context.created_at,
        "updated_at": context.updated_at,
        "updated_by": context.updated_by,
    }


def _as_written(value: Any) -> Any:
    """A stored JSON value with every integer beyond +-(2**53 - 1) read as the float it was.

    Integers that large are refused on input (`storable`, I-JSON), so one read back was
    written as a float: PostgreSQL's jsonb keeps numbers as `numeric` and prints the float
    1e20 as 100000000000000000000, which json decodes as an int (orjson cannot encode one
    beyond 64 bits: every answer showing the context was a 500), with another content hash
    than the float written. The nearest double of that integer is the float written (its
    shortest decimal text is exact), so both backends return what was written. A row from
    before the check (legacy) reads the same way, as the nearest double, or as a decimal
    string when it exceeds the doubles (RFC 7493, 2.2), so that no stored body can make a
    response fail to encode.
    """
    if isinstance(value, dict):
        return {key: _as_written(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_as_written(member) for member in value]
    if isinstance(value, int) and not isinstance(value, bool):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        try:
            return float(value)
        except OverflowError:
            return str(value)
    return value


def _stored_acl(acl: Mapping[str, Any]) -> Acl:
    """The ACL of a stored row, as written: not checked against today's entry pattern.

    Entries were checked when written; one written before the pattern became printable ASCII
    (e.g. `subject:\u00e9`) must not make its context unreadable (a 500), so the row is taken as
    stored. It grants what it granted: access compares entries with the caller's, not patterns.
    """
    return _acl(
        {"readers": frozenset(acl.get("readers", ())), "writers": frozenset(acl.get("writers", ()))}
    )


def to_context(row: Sequence[Any]) -> Context:
    """The `Context` of a row selected as `VERSION_COLUMNS` (its stored hash is recomputed)."""
    (
        namespace,
        name,
        version,
        kind,
        schema_version,
        body,
        labels,
        owner,
        acl,
        deleted,
        etag,
        _content_hash,
        created_at,
        updated_at,
        updated_by,
    ) = row
    return _context(
        {  # every field of `Context`, in its order (`_trusted`)
            "key": _key({"namespace": namespace, "name": name}),
            "version": version,
            "kind": kind,
            "schema_version": schema_version,
            "body": _as_written(body),
            "labels": labels,
            "owner": owner,
            "acl": _stored_acl(acl),
            "deleted": deleted,
            "created_at": created_at,
            "updated_at": updated_at,
            "updated_by": updated_by,
            "etag": etag,
        }
    )


def audit_values(entry: AuditEntry) -> dict[str, Any]:
    """The `audit_log` row of an entry, as INSERT parameters."""
    return {
        "entry_id": entry.entry_id,
        "actor": entry.actor,
        "action": entry.action.value,
        "namespace": entry.key.namespace,
        "name": entry.key.name,
        "version": entry.version,
        "before_hash": entry.before_hash,
        "after_hash": entry.after_hash,
        "request_id": entry.request_id,
        "occurred_at": entry.at,
    }


def to_audit_entry(row: Sequence[Any], key: ContextKey) -> AuditEntry:
    """The `AuditEntry` of `key` from a row selected as `AUDIT_COLUMNS`."""
    entry_id, actor, action, version, before_hash, after_hash, request_id, occurred_at = row
    return AuditEntry(
        entry_id=entry_id,
        actor=actor,
        action=ChangeAction(action),
        key=key,
        version=version,
        before_hash=before_hash,
        after_hash=after_hash,
        request_id=request_id,
        at=occurred_at,
    )
