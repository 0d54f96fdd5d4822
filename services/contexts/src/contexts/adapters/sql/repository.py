"""`SqlContextRepository`: the ContextRepository port on `context_versions` and friends."""

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contexts.adapters.sql.errors import is_unique_violation
from contexts.adapters.sql.tables import context_labels, context_versions, contexts_current
from contexts.domain.errors import Conflict
from contexts.domain.model import Acl, Context, ContextKey, LabelSelector

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


def _to_context(row: Mapping[str, Any]) -> Context:
    return Context(
        key=ContextKey(namespace=row["namespace"], name=row["name"]),
        version=row["version"],
        kind=row["kind"],
        schema_version=row["schema_version"],
        body=row["body"],
        labels=row["labels"],
        owner=row["owner"],
        acl=Acl.model_validate(row["acl"]),
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

    async def get(self, key: ContextKey) -> Context | None:
        """The latest version (a tombstone included), or None if the key was never used."""
        query = (
            sa.select(*_VERSION_COLUMNS)
            .where(_of_key(key))
            .order_by(context_versions.c.version.desc())
            .limit(1)
        )
        found = await self._contexts(query)
        return found[0] if found else None

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
