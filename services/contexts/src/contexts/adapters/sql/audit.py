"""`SqlAuditLog`: the AuditLog port on the append-only `audit_log` table."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from contexts.adapters.sql.tables import audit_log
from contexts.domain.audit import AuditEntry
from contexts.domain.events import ChangeAction
from contexts.domain.model import ContextKey


class SqlAuditLog:
    """Audit entries inserted in the session's transaction, read back oldest first."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, entry: AuditEntry) -> None:
        """Record a change (committed with the rest of the unit of work)."""
        await self._session.execute(
            sa.insert(audit_log).values(
                entry_id=entry.entry_id,
                actor=entry.actor,
                action=entry.action.value,
                namespace=entry.key.namespace,
                name=entry.key.name,
                version=entry.version,
                before_hash=entry.before_hash,
                after_hash=entry.after_hash,
                request_id=entry.request_id,
                occurred_at=entry.at,
            )
        )

    async def list_for(self, key: ContextKey) -> Sequence[AuditEntry]:
        """The entries of one context, oldest first."""
        query = (
            sa.select(audit_log)
            .where(audit_log.c.namespace == key.namespace, audit_log.c.name == key.name)
            .order_by(audit_log.c.id)
        )
        result = await self._session.execute(query)
        return [
            AuditEntry(
                entry_id=row["entry_id"],
                actor=row["actor"],
                action=ChangeAction(row["action"]),
                key=key,
                version=row["version"],
                before_hash=row["before_hash"],
                after_hash=row["after_hash"],
                request_id=row["request_id"],
                at=row["occurred_at"],
            )
            for row in result.mappings()
        ]
