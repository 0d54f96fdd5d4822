"""`SqlContextRepository`: the ContextRepository port on `context_versions` and friends."""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contexts.adapters.sql.errors import is_unique_violation
from contexts.adapters.sql.tables import context_labels, context_versions, contexts_current
from contexts.domain.errors import Conflict
from contexts.domain.model import MAX_SAFE_INTEGER, Acl, Context, ContextKey, LabelSelector

_VERSION_COLUMNS = tuple(context_versions.c)


def _row_values(context: Context) -> dict[str, Any]:
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
    return Acl.model_construct(
        readers=frozenset(acl.get("readers", ())), writers=frozenset(acl.get("writers", ()))
    )


def _to_context(row: Mapping[str, Any]) -> Context:
    return Context(
        key=ContextKey(namespace=row["namespace"], name=row["name"]),
        version=row["version"],
        kind=row["kind"],
        schema_version=row["schema_version"],
        body=_as_written(row["body"]),
        labels=row["labels"],
        owner=row["owner"],
        acl=_stored_acl(row["acl"]),
        deleted=row["deleted"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
        etag=row["etag"],
    )


def _of_key(key: ContextKey) -> sa.ColumnElement[bool]:
    return sa.and_(
        context_versions.c.namespace == key.namespace, context_versions.c.name == key.name
    )


class SqlContextRepository:
    """Context versions read and appended in the session's transaction (the unit of work's)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _contexts(self, query: sa.Select[Any]) -> list[Context]:
        result = await self._session.execute(query)
        return [_to_context(row) for row in result.mappings()]

    async def get(self, key: ContextKey, *, for_update: bool = False) -> Context | None:
        """The latest version (a tombstone included), or None if the key was never used.

        `for_update` first takes the lock a write needs (`_lock_for_write`): concurrent
        writers of one context then queue for it instead of all reading version N and all
        but one failing to append N + 1.
        """
        if for_update:
            await self._lock_for_write(key)
        query = (
            sa.select(*_VERSION_COLUMNS)
            .where(_of_key(key))
            .order_by(context_versions.c.version.desc())
            .limit(1)
        )
        found = await self._contexts(query)
        return found[0] if found else None

    async def _lock_for_write(self, key: ContextKey) -> None:
        """Wait for the other writers of `key`, then hold them off until this transaction ends.

        PostgreSQL: SELECT ... FOR UPDATE of the key's `contexts_current` row; under READ
        COMMITTED the next statement sees what the previous holder committed. A key never used
        has no row to lock yet: its creators still race on `append` (one wins, the others get
        `Conflict`, and the service's retry then finds the row). SQLite has no row locks
        (SQLAlchemy leaves FOR UPDATE out): a write statement opens the transaction and takes
        the database's write lock (waiting up to `busy_timeout`), so the first statement is
        an UPDATE that changes nothing, and every later read of the transaction is current.
        """
        current = contexts_current.c
        of_key = sa.and_(current.namespace == key.namespace, current.name == key.name)
        if self._session.get_bind().dialect.name == "sqlite":
            statement: sa.Executable = (
                sa.update(contexts_current).where(of_key).values(version=current.version)
            )
        else:
            statement = sa.select(current.version).where(of_key).with_for_update()
        await self._session.execute(statement)

    async def get_version(self, key: ContextKey, version: int) -> Context | None:
        """Version `version` of the context, or None."""
        query = sa.select(*_VERSION_COLUMNS).where(
            _of_key(key), context_versions.c.version == version
        )
        found = await self._contexts(query)
        return found[0] if found else None

    async def list_versions(self, key: ContextKey) -> Sequence[Context]:
        """Every version of the context, oldest first."""
        query = (
            sa.select(*_VERSION_COLUMNS).where(_of_key(key)).order_by(context_versions.c.version)
        )
        return await self._contexts(query)

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
        current = contexts_current
        query = (
            sa.select(*_VERSION_COLUMNS)
            .select_from(current)
            .join(
                context_versions,
                sa.and_(
                    context_versions.c.namespace == current.c.namespace,
                    context_versions.c.name == current.c.name,
                    context_versions.c.version == current.c.version,
                ),
            )
            .where(current.c.namespace == namespace, current.c.deleted.is_(False))
            .order_by(current.c.name)
            .limit(limit)
        )
        if kind is not None:
            query = query.where(current.c.kind == kind)
        if after is not None:
            query = query.where(current.c.name > after)
        if label is not None:
            query = query.where(
                sa.exists().where(
                    context_labels.c.namespace == current.c.namespace,
                    context_labels.c.name == current.c.name,
                    context_labels.c.key == label.key,
                    context_labels.c.value == label.value,
                )
            )
        return await self._contexts(query)

    async def append(self, context: Context) -> None:
        """Add a version; raises `Conflict` unless it is exactly the next version number.

        The primary key of `context_versions` decides between concurrent writers of the same
        version: on PostgreSQL the second INSERT waits for the first transaction and fails
        with a unique violation once it commits. The conditional move of the `contexts_current`
        pointer (from version - 1 only) refuses a version that skips a number.
        """
        key = context.key
        taken = Conflict(f"version {context.version} of {key} is taken")
        try:
            await self._session.execute(sa.insert(context_versions).values(_row_values(context)))
            if context.version == 1:
                await self._session.execute(
                    sa.insert(contexts_current).values(
                        namespace=key.namespace,
                        name=key.name,
                        version=1,
                        kind=context.kind,
                        deleted=context.deleted,
                    )
                )
        except IntegrityError as error:
            if is_unique_violation(error):
                raise taken from error
            raise
        if context.version > 1:
            moved = await self._session.execute(
                sa.update(contexts_current)
                .where(
                    contexts_current.c.namespace == key.namespace,
                    contexts_current.c.name == key.name,
                    contexts_current.c.version == context.version - 1,
                )
                .values(version=context.version, kind=context.kind, deleted=context.deleted)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                raise taken
        await self._replace_labels(key, context.labels)

    async def _replace_labels(self, key: ContextKey, labels: Mapping[str, str]) -> None:
        await self._session.execute(
            sa.delete(context_labels).where(
                context_labels.c.namespace == key.namespace, context_labels.c.name == key.name
            )
        )
        if labels:
            await self._session.execute(
                sa.insert(context_labels),
                [
                    {"namespace": key.namespace, "name": key.name, "key": k, "value": v}
                    for k, v in labels.items()
                ],
            )
