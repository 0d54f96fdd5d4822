"""`SqlAuditLog`: the AuditLog port on the append-only `audit_log` table."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contexts.adapters.sql.scope import ConnectionScope
from contexts.adapters.sql.tables import audit_log
from contexts.domain.audit import AuditEntry
from contexts.domain.events import ChangeAction
from contexts.domain.model import ContextKey

_a = audit_log.c
_INSERT = sa.insert(audit_log)
_OF_KEY = (
    sa.select(
        _a.entry_id,
        _a.actor,
        _a.action,
        _a.version,
        _a.before_hash,
        _a.after_hash,
        _a.request_id,
        _a.occurred_at,
    )
    .where(_a.namespace == sa.bindparam("namespace"), _a.name == sa.bindparam("name"))
    .order_by(_a.id)
)


class SqlAuditLog:
    """Audit entries inserted in the unit of work's transaction, read back oldest first."""

    def __init__(self, scope: ConnectionScope) -> None:
        self._scope = scope

    async def append(self, entry: AuditEntry) -> None:
        """Record a change (committed with the rest of the unit of work)."""
        connection = await self._scope.transaction()
        await connection.execute(
            _INSERT,
            {
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
            },
        )

    async def list_for(self, key: ContextKey) -> Sequence[AuditEntry]:
        """The entries of one context, oldest first."""

        async def run(connection: AsyncConnection) -> list[AuditEntry]:
            result = await connection.execute(
                _OF_KEY, {"namespace": key.namespace, "name": key.name}
            )
            return [
                AuditEntry(
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
                for (
                    entry_id,
                    actor,
                    action,
                    version,
                    before_hash,
                    after_hash,
                    request_id,
                    occurred_at,
                ) in result.all()
            ]

        return await self._scope.read(run)
