"""Events a change to a context publishes through the outbox, and who may see them."""

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, JsonValue, PositiveInt

from contexts.domain.model import Acl, Actor, Context, Name, Subject
from contexts.domain.policy import is_admin, is_indexer


class ChangeAction(StrEnum):
    """What a change did to a context."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class ContextChanged(BaseModel):
    """A context got a new version: created, updated or deleted (tombstoned)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["context.changed"] = "context.changed"
    event_id: UUID
    namespace: Name
    name: Name
    version: PositiveInt
    action: ChangeAction
    etag: str
    occurred_at: AwareDatetime
    actor: Subject

    @classmethod
    def of(cls, context: Context, action: ChangeAction, event_id: UUID) -> Self:
        """The event announcing `context` as the version `action` produced."""
        return cls(
            event_id=event_id,
            namespace=context.key.namespace,
            name=context.key.name,
            version=context.version,
            action=action,
            etag=context.etag,
            occurred_at=context.updated_at,
            actor=context.updated_by,
        )

    def to_json_dict(self) -> dict[str, JsonValue]:
        """The event as a JSON-ready dict (UUIDs and times as strings)."""
        return self.model_dump(mode="json")


@dataclass(frozen=True, slots=True)
class ContextAccess:
    """Who may read a context, as its latest version (a tombstone included) says: the ACL of
    the latest version governs the whole history, so it decides who sees any of its events."""

    version: int
    owner: Subject
    acl: Acl

    def readable_by(self, actor: Actor) -> bool:
        """Whether `actor` may read the context (owner, reader, writer, admin or indexer)."""
        entries = actor.acl_entries
        return (
            is_admin(actor)
            or is_indexer(actor)
            or self.owner == actor.subject
            or not entries.isdisjoint(self.acl.readers)
            or not entries.isdisjoint(self.acl.writers)
        )
