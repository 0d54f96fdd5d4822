"""`SqlCatalogReader`: every live context across namespaces, by (namespace, name), for indexers.

A keyset scan of `contexts_current`'s primary key (namespace, name), joined to the current
version's row; one statement, built once, run on an autocommit read connection.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from contexts.adapters.sql.rows import CURRENT_VERSIONS, to_context
from contexts.adapters.sql.tables import contexts_current
from contexts.domain.model import Context, ContextKey
from slipway.db import Database

_current = contexts_current.c


def _page(*, after: bool) -> sa.Select[Any]:
    query = (
        CURRENT_VERSIONS.where(_current.deleted.is_(False))
        .order_by(_current.namespace, _current.name)
        .limit(sa.bindparam("limit", type_=sa.Integer()))
    )
    if after:
        position = sa.tuple_(sa.bindparam("after_namespace"), sa.bindparam("after_name"))
        query = query.where(sa.tuple_(_current.namespace, _current.name) > position)
    return query


_FIRST = _page(after=False)
_AFTER = _page(after=True)


class SqlCatalogReader:
    """The `CatalogReader` port on the registry's tables."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def page_after(self, after: ContextKey | None, limit: int) -> Sequence[Context]:
        """Up to `limit` live contexts after `after` in (namespace, name) order."""
        if after is None:
            rows = await self._database.fetch_all(_FIRST, {"limit": limit})
        else:
            params = {"limit": limit, "after_namespace": after.namespace, "after_name": after.name}
            rows = await self._database.fetch_all(_AFTER, params)
        return [to_context(row) for row in rows]
