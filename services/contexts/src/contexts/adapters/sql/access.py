"""`SqlAccessLookup`: the latest version's owner and ACL of a context, without its body.

A system read (no actor): event filtering asks who may read a context, once per change per
process, and decides per subscriber from the answer. One statement, so it runs on an
autocommit connection, with no transaction around it.
"""

import sqlalchemy as sa

from contexts.adapters.sql.tables import context_versions, contexts_current
from contexts.domain.events import ContextAccess
from contexts.domain.model import Acl, ContextKey
from slipway.db import Database

_v, _current = context_versions.c, contexts_current.c
_ACCESS = (
    sa.select(_v.version, _v.owner, _v.acl)
    .select_from(
        contexts_current.join(
            context_versions,
            sa.and_(
                _v.namespace == _current.namespace,
                _v.name == _current.name,
                _v.version == _current.version,
            ),
        )
    )
    .where(_current.namespace == sa.bindparam("namespace"), _current.name == sa.bindparam("name"))
)


class SqlAccessLookup:
    """The AccessLookup port on the registry's tables."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def access_of(self, key: ContextKey) -> ContextAccess | None:
        """The latest version's number, owner and ACL (a tombstone's included), or None."""

        params = {"namespace": key.namespace, "name": key.name}
        row = await self._database.fetch_one(_ACCESS, params)
        if row is None:
            return None
        version, owner, acl = row
        return ContextAccess(version=version, owner=owner, acl=Acl.model_validate(acl))
