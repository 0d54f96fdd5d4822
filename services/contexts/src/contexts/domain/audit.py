"""Audit entries: who changed which context, when, and the content hashes around the change."""

from typing import Self
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, JsonValue, PositiveInt

from contexts.domain.events import ChangeAction
from contexts.domain.model import Context, ContextKey, Subject


class AuditEntry(BaseModel):
    """One change to a context, as the audit log keeps it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entry_id: UUID
    actor: Subject
    action: ChangeAction
    key: ContextKey
    version: PositiveInt
    before_hash: str | None
    after_hash: str
    request_id: str | None
    at: AwareDatetime

    @classmethod
    def of_change(
        cls,
        entry_id: UUID,
        before: Context | None,
        after: Context,
        action: ChangeAction,
        request_id: str | None,
    ) -> Self:
        """The entry recording that `after` replaced `before` (None when there was none)."""
        return cls(
            entry_id=entry_id,
            actor=after.updated_by,
            action=action,
            key=after.key,
            version=after.version,
            before_hash=None if before is None else before.content_hash,
            after_hash=after.content_hash,
            request_id=request_id,
            at=after.updated_at,
        )

    def to_json_dict(self) -> dict[str, JsonValue]:
        """The entry as a JSON-ready dict."""
        return self.model_dump(mode="json")
