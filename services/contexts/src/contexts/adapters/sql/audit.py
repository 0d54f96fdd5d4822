"""`SqlAuditLog`: the AuditLog port on the append-only `audit_log` table."""

from collections.abc import Sequence

import sqlalchemy as sa

from contexts.adapters.sql.rows import AUDIT_COLUMNS, audit_values, to_audit_entry
from contexts.adapters.sql.scope import ConnectionScope
from contexts.adapters.sql.tables import audit_log
from contexts.domain.audit import AuditEntry
from contexts.domain.model import ContextKey
from slipway.db.writes import execute

_a = audit_log.c
_INSERT = sa.insert(audit_log)
_OF_KEY = (
    sa.select(*AUDIT_COLUMNS)
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
        await execute(connection, _INSERT, audit_values(entry))

    async def list_for(self, key: ContextKey) -> Sequence[AuditEntry]:
        """The entries of one context, oldest first."""
        params = {"namespace": key.namespace, "name": key.name}
        return [to_audit_entry(row, key) for row in await self._scope.fetch_all(_OF_KEY, params)]
