"""`SqlContextRepository`: the ContextRepository port on `context_versions` and friends.

Every statement is built once, at import, with bound parameters: a call only binds values,
and SQLAlchemy finds the compiled form in its cache by the statement's memoized cache key.
"""

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from contexts.adapters.sql.errors import is_unique_violation
from contexts.adapters.sql.rows import CURRENT_VERSIONS, VERSION_COLUMNS, row_values, to_context
from contexts.adapters.sql.scope import ConnectionScope
from contexts.adapters.sql.tables import context_labels, context_versions, contexts_current
from contexts.domain.errors import Conflict
from contexts.domain.model import Context, ContextKey, LabelSelector
from slipway.db.writes import execute

_v, _current, _labels = context_versions.c, contexts_current.c, context_labels.c
_OF_KEY = sa.and_(_v.namespace == sa.bindparam("namespace"), _v.name == sa.bindparam("name"))
# Named apart from the columns: an UPDATE may not bind a name its SET clause assigns.
_CURRENT_OF_KEY = sa.and_(
    _current.namespace == sa.bindparam("key_namespace"),
    _current.name == sa.bindparam("key_name"),
)

_LATEST = sa.select(*VERSION_COLUMNS).where(_OF_KEY).order_by(_v.version.desc()).limit(1)
_VERSION = sa.select(*VERSION_COLUMNS).where(_OF_KEY, _v.version == sa.bindparam("version"))
_VERSIONS = sa.select(*VERSION_COLUMNS).where(_OF_KEY).order_by(_v.version)

# The write lock of `_lock_for_write`, per dialect.
_LOCK_CURRENT = sa.select(_current.version).where(_CURRENT_OF_KEY).with_for_update()
_LOCK_SQLITE = sa.update(contexts_current).where(_CURRENT_OF_KEY).values(version=_current.version)

_INSERT_VERSION = sa.insert(context_versions)
_INSERT_CURRENT = sa.insert(contexts_current)
# The pointer moves from version - 1 only.
_MOVE_CURRENT = (
    sa.update(contexts_current)
    .where(_CURRENT_OF_KEY, _current.version == sa.bindparam("previous_version"))
    .values(
        version=sa.bindparam("new_version"),
        kind=sa.bindparam("new_kind"),
        deleted=sa.bindparam("new_deleted"),
    )
)
_DELETE_LABELS = sa.delete(context_labels).where(
    _labels.namespace == sa.bindparam("namespace"), _labels.name == sa.bindparam("name")
)
_INSERT_LABELS = sa.insert(context_labels)


@functools.cache
def _page_query(*, kind: bool, after: bool, label: bool) -> sa.Select[Any]:
    """The listing statement for one combination of filters (eight in all, built once each)."""
    query = (
        CURRENT_VERSIONS.where(
            _current.namespace == sa.bindparam("namespace"), _current.deleted.is_(False)
        )
        .order_by(_current.name)
        .limit(sa.bindparam("limit", type_=sa.Integer()))
    )
    if kind:
        query = query.where(_current.kind == sa.bindparam("kind"))
    if after:
        # On both sides of the join: PostgreSQL does not carry an inequality across an
        # equi-join, and bounding only `contexts_current` made a deep page scan the
        # versions' index from the start of the namespace (tooling/bench:contexts-scale).
        query = query.where(_current.name > sa.bindparam("after"), _v.name > sa.bindparam("after"))
    if label:
        query = query.where(
            sa.exists().where(
                _labels.namespace == _current.namespace,
                _labels.name == _current.name,
                _labels.key == sa.bindparam("label_key"),
                _labels.value == sa.bindparam("label_value"),
            )
        )
    return query


def _key_params(key: ContextKey) -> dict[str, Any]:
    return {"namespace": key.namespace, "name": key.name}


async def _contexts(
    scope: ConnectionScope, query: sa.Select[Any], params: Mapping[str, Any]
) -> list[Context]:
    return [to_context(row) for row in await scope.fetch_all(query, params)]


class SqlContextRepository:
    """Context versions read and appended in one unit of work (its `ConnectionScope`)."""

    def __init__(self, scope: ConnectionScope) -> None:
        self._scope = scope

    async def get(self, key: ContextKey, *, for_update: bool = False) -> Context | None:
        """The latest version (a tombstone included), or None if the key was never used.

        `for_update` first takes the lock a write needs (`_lock_for_write`): concurrent
        writers of one context then queue for it instead of all reading version N and all
        but one failing to append N + 1. When there was no row to lock, the answer is None
        without reading on: under READ COMMITTED a read after the lock can see a creation
        committed since, and a writer that appended the next version of it without holding
        the lock deadlocked with the one holding it (tests/integration/test_write_lock.py).
        Its append of version 1 now fails on the primary key instead, and it is retried.
        Without `for_update`, and before the unit of work wrote anything, this is one
        statement on its own (autocommit).
        """
        if for_update and not await self._lock_for_write(key):
            return None
        found = await _contexts(self._scope, _LATEST, _key_params(key))
        return found[0] if found else None

    async def _lock_for_write(self, key: ContextKey) -> bool:
        """Wait for the other writers of `key`, then hold them off until this transaction ends;
        whether the key had a row to lock (it was used before).

        PostgreSQL: SELECT ... FOR UPDATE of the key's `contexts_current` row; under READ
        COMMITTED the next statement sees what the previous holder committed. A key never used
        has no row to lock yet: its creators still race on `append` (one wins, the others get
        `Conflict`, and the service's retry then finds the row). SQLite has no row locks
        (SQLAlchemy leaves FOR UPDATE out): a write statement opens the transaction and takes
        the database's write lock (waiting up to `busy_timeout`), so the first statement is
        an UPDATE that changes nothing, and every later read of the transaction is current.
        """
        connection = await self._scope.transaction()
        sqlite = self._scope.dialect_name == "sqlite"
        params = {"key_namespace": key.namespace, "key_name": key.name}
        if sqlite:
            return (await connection.execute(_LOCK_SQLITE, params)).rowcount > 0  # begins it
        return (await connection.execute(_LOCK_CURRENT, params)).first() is not None

    async def get_version(self, key: ContextKey, version: int) -> Context | None:
        """Version `version` of the context, or None."""
        found = await _contexts(self._scope, _VERSION, {**_key_params(key), "version": version})
        return found[0] if found else None

    async def list_versions(self, key: ContextKey) -> Sequence[Context]:
        """Every version of the context, oldest first."""
        return await _contexts(self._scope, _VERSIONS, _key_params(key))

    async def list_namespace(
        self,
        namespace: str,
        *,
        kind: str | None = None,
        label: LabelSelector | None = None,
        after: str | None = None,
        limit: int,
    ) -> Sequence[Context]:
        """Up to `limit` latest live versions matching the filters, by name, after `after`."""
        query = _page_query(kind=kind is not None, after=after is not None, label=label is not None)
        params: dict[str, Any] = {"namespace": namespace, "limit": limit}
        if kind is not None:
            params["kind"] = kind
        if after is not None:
            params["after"] = after
        if label is not None:
            params["label_key"], params["label_value"] = label.key, label.value
        return await _contexts(self._scope, query, params)

    async def append(self, context: Context) -> None:
        """Add a version; raises `Conflict` unless it is exactly the next version number.

        The primary key of `context_versions` decides between concurrent writers of the same
        version: on PostgreSQL the second INSERT waits for the first transaction and fails
        with a unique violation once it commits. The conditional move of the `contexts_current`
        pointer (from version - 1 only) refuses a version that skips a number.
        """
        key = context.key
        taken = Conflict(f"version {context.version} of {key} is taken")
        connection = await self._scope.transaction()
        try:
            await execute(connection, _INSERT_VERSION, row_values(context))
            if context.version == 1:
                await execute(
                    connection,
                    _INSERT_CURRENT,
                    {
                        "namespace": key.namespace,
                        "name": key.name,
                        "version": 1,
                        "kind": context.kind,
                        "deleted": context.deleted,
                    },
                )
        except IntegrityError as error:
            if is_unique_violation(error):
                raise taken from error
            raise
        if context.version > 1:
            moved = await execute(
                connection,
                _MOVE_CURRENT,
                {
                    "key_namespace": key.namespace,
                    "key_name": key.name,
                    "previous_version": context.version - 1,
                    "new_version": context.version,
                    "new_kind": context.kind,
                    "new_deleted": context.deleted,
                },
            )
            if moved != 1:
                raise taken
        await self._replace_labels(connection, key, context.labels)

    @staticmethod
    async def _replace_labels(
        connection: AsyncConnection, key: ContextKey, labels: Mapping[str, str]
    ) -> None:
        await execute(connection, _DELETE_LABELS, _key_params(key))
        if labels:
            await execute(
                connection,
                _INSERT_LABELS,
                [
                    {"namespace": key.namespace, "name": key.name, "key": k, "value": v}
                    for k, v in labels.items()
                ],
            )
