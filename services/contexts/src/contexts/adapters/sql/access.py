"""`SqlAccessLookup`: the latest version's owner and ACL of a context, without its body.

A system read (no actor): event filtering asks who may read a context, once per change per
process, and decides per subscriber from the answer.
"""

import sqlalchemy as sa

from contexts.adapters.sql.tables import context_versions, contexts_current
from contexts.domain.events import ContextAccess
from contexts.domain.model import Acl, ContextKey
from slipway.db import Database


class SqlAccessLookup:
    """The AccessLookup port on the registry's tables."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def access_of(self, key: ContextKey) -> ContextAccess | None:
        """The latest version's number, owner and ACL (a tombstone's included), or None."""
        v, current = context_versions.c, contexts_current.c
        query = (
            sa.select(v.version, v.owner, v.acl)
            .select_from(
                contexts_current.join(
                    context_versions,
                    sa.and_(
                        v.namespace == current.namespace,
                        v.name == current.name,
                        v.version == current.version,
                    ),
                )
            )
            .where(current.namespace == key.namespace, current.name == key.name)
        )
        async with self._database.sessionmaker() as session:
            row = (await session.execute(query)).one_or_none()
        if row is None:
            return None
        return ContextAccess(version=row.version, owner=row.owner, acl=Acl.model_validate(row.acl))
